"""`blackfish dns STACK`: resolve `*.<stack>` on this host through the stack's consul DNS."""

from __future__ import annotations

import click

from blackfish.cli.common import file_option
from blackfish.host.dns import METHODS


@click.command()
@click.argument("stack_name", metavar="STACK")
@file_option
@click.option("--dry-run", is_flag=True, help="Print the commands and files; change nothing.")
@click.option("--remove", is_flag=True, help="Undo what `blackfish dns STACK` set up.")
@click.option("--via", type=click.Choice(METHODS), default=None,
              help="How to configure the host [default: detected].")
@click.option("--link", metavar="IFACE", default=None,
              help="systemd-resolved: the interface to set [default: the one that reaches the consul servers].")
def dns(stack_name, nodes_file, dry_run, remove, via, link):
    """Make *.STACK names resolve here through the stack's consul DNS (servers' port 8600).

    Uses NetworkManager's dnsmasq, systemd-resolved (per-link DNS and a ~STACK routing
    domain) or /etc/resolver/STACK on macOS, whichever this host runs.
    """
    from blackfish.host import dns as core
    from blackfish.cli.common import target_stack
    from blackfish.host import Runner, detect

    stack = target_stack(stack_name, nodes_file)
    runner = Runner(click.echo, dry_run=dry_run)
    plan = core.plan(stack, detect(core.TOOLS), method=via, remove=remove, link=link)
    if not plan.commands:
        runner.note(f"{plan.method}: nothing to remove for {stack.name}")
        return
    runner.note(f"{plan.method}: {'removing' if remove else 'routing'} *.{stack.name} "
                f"{'from' if remove else 'to'} consul DNS")
    runner.run(plan.commands)
    if plan.note and not remove:
        runner.note(plan.note)
