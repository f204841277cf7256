"""Options and helpers shared by commands: the nodes file, the stack argument."""

from __future__ import annotations

from pathlib import Path

import click

from blackfish.errors import UsageError

file_option = click.option(
    "-f", "--file", "nodes_file", metavar="PATH", default=None,
    help="The nodes file [default: $BLACKFISH_NODES_YML, else ./nodes.yml].",
)


def echo_warnings(loaded) -> None:
    for warning in loaded.warnings:
        click.echo(str(warning), err=True)


def load_config(nodes_file: str | None):
    from blackfish import config

    loaded = config.load(config.resolve_path(nodes_file))
    echo_warnings(loaded)
    return loaded


def load_stack(nodes_file: str | None, stack_name: str | None = None, provider: str | None = None):
    """The Stack planned from the nodes file; STACK, when given, must be the file's stack."""
    from blackfish.stack import plan

    loaded = load_config(nodes_file)
    if stack_name is not None and stack_name != loaded.config.stack:
        raise UsageError(
            f"{loaded.path}: describes stack {loaded.config.stack!r}, not {stack_name!r} "
            "(choose the file with -f/--file or $BLACKFISH_NODES_YML)"
        )
    return plan(loaded.config, source=Path(loaded.path), provider=provider)


def recorded_stack(stack_name: str):
    """The Stack as recorded in its state directory (for commands that need no nodes.yml)."""
    from blackfish.stack import Stack
    from blackfish.state import StateDir

    return Stack.from_record(StateDir(stack_name).record())
