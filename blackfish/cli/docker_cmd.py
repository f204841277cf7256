"""`blackfish STACK ARGS...`: every argument after the stack goes to docker untouched."""

from __future__ import annotations

import click


class ProxyCommand(click.Command):
    """Hands its arguments to docker verbatim. Click's own parser would eat the first `--`,
    and then this path would differ from the one blackfish.entry takes without click."""

    def __init__(self, stack: str):
        super().__init__(name=stack, add_help_option=False)
        self.stack = stack

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.args = list(args)
        return []

    def invoke(self, ctx: click.Context) -> None:
        from blackfish import proxy as core

        core.exec_docker(self.stack, ctx.args)


def proxy_command(stack: str) -> click.Command:
    return ProxyCommand(stack)
