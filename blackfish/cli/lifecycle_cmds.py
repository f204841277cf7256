"""Commands that boot and manage a stack's nodes: up, status, halt, destroy, ssh, provision."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import click

from blackfish.cli.common import file_option, target_stack

stack_argument = click.argument("stack_name", metavar="[STACK]", required=False)
templates_option = click.option(
    "--templates", metavar="DIR", default=None, type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Your templates, overriding the built-in ones file by file.",
)
parallel_option = click.option(
    "--parallel", metavar="N", type=click.IntRange(min=1), default=1, show_default=True,
    help="Boot up to N nodes at once (the first node always boots alone).",
)


@click.command()
@stack_argument
@file_option
@click.option("--provider", metavar="NAME", default=None,
              help="virtualbox, parallels, libvirt, vmware_desktop, hyperv, docker or aws [default: nodes.yml's].")
@parallel_option
@click.option("--provision", is_flag=True, help="Re-apply each node's user-data, also to running nodes.")
@templates_option
@click.option("--node-image", metavar="IMAGE", default=None, help="docker provider: the image every node runs.")
@click.option("--no-wait", is_flag=True, help="Return once the machines run, without waiting for the swarm.")
@click.option("--dry-run", is_flag=True, help="aws provider: print what up would make, without calling AWS.")
def up(stack_name, nodes_file, provider, parallel, provision, templates, node_image, no_wait, dry_run):
    """Boot the stack: plan, PKI, user-data, boot, wait until the swarm is ready.

    \b
      blackfish up                      the stack of ./nodes.yml, on its provider
      blackfish up vagrant --parallel 3
      blackfish up --provider docker    every node a local container
    """
    from blackfish.cli.common import load_stack

    stack = load_stack(nodes_file, stack_name, provider=provider)
    if node_image is not None:
        import dataclasses

        stack = dataclasses.replace(stack, node_image=node_image)
    if dry_run:
        from blackfish.providers.aws.dryrun import describe

        click.echo("\n".join(describe(stack)))
        return
    _boot(stack, parallel=parallel, provision=provision, templates=templates, wait=not no_wait)


@click.command()
@stack_argument
@file_option
@parallel_option
@templates_option
def provision(stack_name, nodes_file, parallel, templates):
    """Render again and re-apply every node's user-data (booting halted nodes)."""
    from blackfish.cli.common import load_stack, with_booted_provider

    stack = with_booted_provider(load_stack(nodes_file, stack_name))
    _boot(stack, parallel=parallel, provision=True, templates=templates, wait=True)


@click.command()
@stack_argument
@file_option
@click.option("--json", "as_json", is_flag=True, help="Print the nodes as JSON.")
def status(stack_name, nodes_file, as_json):
    """Show every node: name, IP, roles, state, and what its provider adds."""
    from blackfish import lifecycle
    from blackfish.cli.output import print_json, print_table

    rows = lifecycle.status(target_stack(stack_name, nodes_file))
    if as_json:
        print_json(rows)
    else:
        print_table(rows, lifecycle.status_columns(rows))


@click.command()
@stack_argument
@file_option
def halt(stack_name, nodes_file):
    """Stop every node, keeping its disk; `blackfish up` starts the same nodes again."""
    from blackfish import lifecycle

    stack = target_stack(stack_name, nodes_file)
    lifecycle.halt(stack)
    click.echo(f"stack {stack.name!r} halted; `blackfish up {stack.name}` starts it again", err=True)


@click.command()
@stack_argument
@file_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--purge", is_flag=True, help="Also delete the state directory: CA, keys, secrets, user-data.")
def destroy(stack_name, nodes_file, yes, purge):
    """Remove every node of the stack (its PKI stays unless --purge)."""
    from blackfish import lifecycle
    from blackfish.state import StateDir

    stack = target_stack(stack_name, nodes_file)
    state = StateDir(stack.name)
    target = lifecycle.acted_on(stack)
    # One group of a stack with several (docs/groups.md): `destroy -f FILE` removes that group only.
    subject = f"group {target.group!r} of stack {stack.name!r}" if target.members else f"stack {stack.name!r}"
    if target.members and purge:
        from blackfish.errors import UsageError

        raise UsageError(f"--purge deletes the whole stack's state; `blackfish destroy {stack.name} --purge` does that")
    if not yes:
        what = f"and delete {state.path} (CA, keys, secrets)" if purge else f"(the PKI in {state.path} stays)"
        click.confirm(f"Destroy the {len(target.nodes)} node(s) of {subject} on {stack.provider} {what}?",
                      abort=True, err=True)
    removed = lifecycle.destroy(stack, state, purge=purge)
    for thing in removed:
        click.echo(f"removed {thing}", err=True)
    click.echo(f"{subject} destroyed" + ("; its state directory is gone" if purge else ""), err=True)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("stack_name", metavar="STACK")
@click.argument("node")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def ssh(stack_name, node, command):
    """Open a shell on NODE, or run `-- COMMAND...` there.

    \b
      blackfish ssh vagrant vagrant-01
      blackfish ssh vagrant vagrant-01 -- journalctl -u blackfish-swarm
    """
    from blackfish import lifecycle

    argv = lifecycle.ssh_argv(target_stack(stack_name, None), node, list(command))
    os.execvp(argv[0], argv)


# --- helpers -----------------------------------------------------------------------


def _boot(stack, *, parallel, provision, templates, wait) -> None:
    from blackfish import lifecycle
    from blackfish.cli.output import print_table

    with _StepLines([n.name for n in stack.nodes]) as reporter:
        rows = lifecycle.up(stack, parallel=parallel, provision=provision, templates=templates, wait=wait,
                            reporter=reporter)
    print_table(rows, lifecycle.status_columns(rows))
    if wait:
        click.echo(f"stack {stack.name!r} is up on {stack.provider}: `blackfish {stack.name} node ls` talks to its "
                   f"swarm, `blackfish status {stack.name}` shows its nodes", err=True)
    else:
        click.echo(f"stack {stack.name!r} is booted on {stack.provider}; its swarm forms on its own: "
                   f"`blackfish check {stack.name}` tells when it is ready", err=True)


class _StepLines:
    """`up`'s steps: one line per node when a step ends (`NODE  STEP  what happened`); on a
    terminal, a live table of every node's current phase in the running step as well."""

    def __init__(self, nodes: list[str]):
        from rich.console import Console

        self.console = Console(stderr=True)
        self.nodes = nodes
        self.width = max(len(n) for n in nodes)
        self.phases: dict[str, str] = {}
        self.step = ""
        self.live = None
        self.lock = threading.Lock()

    def __enter__(self):
        if self.console.is_terminal:
            from rich.live import Live

            self.live = Live(self._table(), console=self.console, refresh_per_second=4, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc):
        if self.live is not None:
            self.live.__exit__(*exc)

    def begin(self, step: str) -> None:
        with self.lock:
            self.step, self.phases = step, {}
            self._refresh()

    def node(self, step: str, node: str, phase: str) -> None:
        with self.lock:
            self.phases[node] = phase
            self._refresh()

    def end(self, step: str, ok: bool) -> None:
        with self.lock:
            for name in self.nodes:
                phase = self.phases.get(name, "done" if ok else "stopped (the step failed)")
                self.console.print(f"{name:<{self.width}}  {step:<6}  {phase}", markup=False, highlight=False,
                                   soft_wrap=True)
            self.phases = {}
            self._refresh()

    def _refresh(self) -> None:
        if self.live is not None:
            self.live.update(self._table())

    def _table(self):
        from rich.table import Table

        table = Table(box=None, show_header=False, pad_edge=False)
        for name in self.nodes:
            table.add_row(name, self.step, self.phases.get(name, "…" if self.step else ""))
        return table
