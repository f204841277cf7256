"""Commands about nodes.yml itself: init, validate, schema."""

from __future__ import annotations

from pathlib import Path

import click

from blackfish.cli.common import file_option, load_config
from blackfish.entry import summary


@click.command()
@click.argument("path", default="nodes.yml", type=click.Path(path_type=Path))
@click.option("--stack", default="vagrant", show_default=True, help="The stack's name.")
@click.option("--provider", default="virtualbox", show_default=True, help="The provider that boots the nodes.")
def init(path, stack, provider):
    """Write a commented starter nodes.yml with fresh secrets."""
    from blackfish.model.starter import write_starter

    written = write_starter(path, stack=stack, provider=provider)
    click.echo(f"wrote {written} (stack {stack!r}); check it with `blackfish validate -f {written}`")


@click.command()
@file_option
@click.option("--json", "as_json", is_flag=True, help="Print the planned stack as JSON.")
def validate(nodes_file, as_json):
    """Check nodes.yml and show the planned nodes."""
    loaded = load_config(nodes_file)
    if as_json:
        from blackfish.cli.output import print_json
        from blackfish.model.stack import plan

        print_json(plan(loaded.config, source=Path(loaded.path)).to_record())
        return
    click.echo(summary(loaded))


@click.command()
def schema():
    """Print the JSON Schema of nodes.yml (for editor completion)."""
    from blackfish.cli.output import print_json
    from blackfish.model.config import json_schema

    print_json(json_schema())
