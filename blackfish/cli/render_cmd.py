"""`blackfish render`: write every node's user-data into the state directory and summarise it."""

from __future__ import annotations

from pathlib import Path

import click

from blackfish.cli.common import file_option


@click.command()
@click.argument("stack_name", metavar="[STACK]", required=False)
@file_option
@click.option("--templates", "templates", metavar="DIR", type=click.Path(path_type=Path), default=None,
              help="A directory whose templates override the built-in ones, file by file [default: `templates:` of nodes.yml].")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def render(stack_name, nodes_file, templates, as_json):
    """Render each node's user-data (cloud-config), creating the PKI first when needed."""
    from blackfish.cli.common import load_stack
    from blackfish.render import render_stack
    from blackfish.state import StateDir

    stack = load_stack(nodes_file, stack_name)
    state = StateDir(stack.name)
    nodes = render_stack(stack, state, templates)
    rows = [{"node": r.node.name, "ip": r.node.ip, "roles": list(r.node.roles), "services": r.services,
             "user-data": str(r.path), "changed": r.changed} for r in nodes]
    if as_json:
        from blackfish.cli.output import print_json

        print_json(rows)
        return
    # Two lines per node rather than a table: roles and services do not fit in columns.
    width = max(len(r.node.name) for r in nodes) + 2
    for r in nodes:
        lead = f"{r.node.name:<{width}}{r.node.ip:<17}"
        click.echo(f"{lead}roles: {', '.join(r.node.roles) or 'none (a swarm worker and consul agent)'}")
        click.echo(f"{'':<{len(lead)}}services: {', '.join(r.services)}")
    changed = sum(r.changed for r in nodes)
    click.echo(f"{changed} of {len(nodes)} user-data file(s) written under {state.path / 'nodes'} (0600)")
