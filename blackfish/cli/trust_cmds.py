"""`blackfish certs install|uninstall`: put the stack's CA into this machine's trust stores, or take it out."""

from __future__ import annotations

import click

from blackfish.cli.common import file_option

stack_argument = click.argument("stack_name", metavar="[STACK]", required=False)
only_option = click.option(
    "--only", metavar="STORES",
    help="Comma-separated stores: system, nss, docker [default: every one this machine has].",
)
dry_run_option = click.option("--dry-run", is_flag=True, help="Print the commands; change nothing.")


def _runner(dry_run: bool):
    import os

    from blackfish.host import Runner

    if os.geteuid() == 0 and os.environ.get("SUDO_USER"):
        # Under sudo, ~ may still be the user's home: NSS databases created there would be root's.
        click.echo(f"blackfish: warning: run `certs` as {os.environ['SUDO_USER']}, not through sudo: "
                   "it calls sudo itself for the steps that need root", err=True)
    return Runner(click.echo, dry_run=dry_run)


@click.command()
@stack_argument
@file_option
@only_option
@dry_run_option
@click.option("--allow-unconstrained", is_flag=True,
              help="Trust a CA that may sign public names or addresses (pki.name-constraints: false). Dangerous.")
def install(stack_name, nodes_file, only, dry_run, allow_unconstrained):
    """Trust the stack's CA here: the OS store, browsers' NSS databases, docker's certs.d.

    Steps that need root run through sudo; each command is printed first.
    """
    from blackfish import pki
    from blackfish.host import trust
    from blackfish.cli.common import target_stack
    from blackfish.state import StateDir

    chosen = trust.parse_only(only)
    stack = target_stack(stack_name, nodes_file)
    state = StateDir(stack.name)
    target = trust.target_for(stack, state)
    runner = _runner(dry_run)
    if not dry_run:
        pki.ensure_pki(stack, state)
    elif target.ca_pem() is None:
        runner.note(f"{target.ca} does not exist yet: install creates the stack's PKI first")
    trust.install(target, runner, chosen, allow_unconstrained=allow_unconstrained)


@click.command()
@stack_argument
@file_option
@only_option
@dry_run_option
def uninstall(stack_name, nodes_file, only, dry_run):
    """Remove the stack's CA from every store `certs install` put it in."""
    from blackfish.host import trust
    from blackfish.cli.common import target_stack_name
    from blackfish.state import StateDir
    from blackfish.host.trust.store import Target

    chosen = trust.parse_only(only)
    name = target_stack_name(stack_name, nodes_file)
    # By name alone: what install added carries the stack's name, so no nodes.yml is needed.
    target = Target(stack=name, ca=StateDir(name).file(trust.CA_FILE))
    trust.uninstall(target, _runner(dry_run), chosen)
