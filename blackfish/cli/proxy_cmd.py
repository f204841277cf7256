"""`blackfish STACK ARGS...`: every argument after the stack goes to docker untouched."""

from __future__ import annotations

import click


def proxy_command(stack: str) -> click.Command:
    @click.command(
        name=stack,
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
    )
    @click.argument("docker_args", nargs=-1, type=click.UNPROCESSED)
    def proxy(docker_args):
        from blackfish import proxy as core

        core.exec_docker(stack, list(docker_args))

    return proxy
