"""`blackfish load` and `blackfish check`: images into a running stack, and its smoke test."""

from __future__ import annotations

import click


@click.command()
@click.argument("stack_name", metavar="STACK")
@click.argument("images", metavar="IMAGE...", nargs=-1, required=True)
@click.option("--node", "nodes", metavar="NODE", multiple=True, help="Only into this node (repeatable) [default: every node].")
def load(stack_name, images, nodes):
    """Copy IMAGEs from this machine's docker engine into every node of STACK.

    \b
      blackfish load vagrant myapp:1.2 registry:3.0.0
      blackfish load vagrant registry:3.0.0 --node core-01
    """
    from blackfish.cli.common import recorded_stack
    from blackfish.cluster.load import load_images
    from blackfish.state import StateDir

    stack = recorded_stack(stack_name)
    load_images(stack, StateDir(stack.name), list(images), nodes=list(nodes),
                progress=lambda node, phase: click.echo(f"{node}: {phase}", err=True))


@click.command()
@click.argument("stack_name", metavar="STACK")
@click.option("--image", metavar="IMAGE", default=None,
              help="The image of the test service and the registry push (it needs `sleep`) [default: busybox:1.37].")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def check(stack_name, image, as_json):
    """Smoke-test STACK: engines over TLS, swarm membership, a global service, the registry, consul.

    Exits 1 when any check fails.
    """
    from blackfish.cluster import check as core
    from blackfish.cli.common import recorded_stack
    from blackfish.cli.output import print_json, print_table
    from blackfish.state import StateDir

    stack = recorded_stack(stack_name)
    results = core.run(stack, StateDir(stack.name), image=image or core.DEFAULT_IMAGE)
    rows = core.as_rows(results)
    if as_json:
        print_json({"passed": core.passed(results), "checks": rows})
    else:
        print_table(rows, ["check", "target", "result", "detail"])
    if not core.passed(results):
        raise click.exceptions.Exit(1)
