"""`blackfish env` and `blackfish context`: the docker CLI aimed at a stack without the proxy."""

from __future__ import annotations

import click

from blackfish.proxy.shellenv import SHELLS


def _warn(message: str) -> None:
    click.echo(f"blackfish: warning: {message}", err=True)


@click.command("env")
@click.argument("stack", required=False)
@click.option("--shell", type=click.Choice(SHELLS), help="The shell to print for [default: from $SHELL].")
@click.option("-u", "--unset", is_flag=True, help="Print the commands that undo the exports (STACK not needed).")
def env(stack, shell, unset):
    """Print shell exports that point docker at a manager of STACK.

    The manager is chosen like a proxy call's: a healthy, active swarm manager.

    \b
      eval "$(blackfish env vagrant)"                      bash, zsh
      blackfish env vagrant | source                       fish
      blackfish env vagrant --shell powershell | Invoke-Expression
    """
    from blackfish.proxy import shellenv
    from blackfish.errors import UsageError

    if stack is None and not unset:
        raise UsageError("env: missing argument STACK (only --unset works without it)")
    text = shellenv.stack_env(stack, shell or shellenv.detect(), unset=unset, shell_given=shell is not None, warn=_warn)
    click.echo(text, nl=False)


@click.command("context")
@click.argument("stack")
def context(stack):
    """Create or update the docker context blackfish-STACK.

    It holds a healthy manager's address and the stack's TLS files:
    `docker --context blackfish-STACK ps`.
    """
    from blackfish.proxy.context import ensure_context

    name, manager, created = ensure_context(stack, warn=_warn)
    click.echo(f"{'Created' if created else 'Updated'} docker context {name}: {manager.docker_host} ({manager.name})")
    click.echo(f"Use it with `docker --context {name} ps`, or for every command with `docker context use {name}`.")
