"""The command line: parse, call the core, print. The only package that imports click.

Commands are loaded lazily from blackfish.model.commands.COMMANDS, so `blackfish --help` and
`blackfish validate` import only what they use. A first word that is no command but names
a stack with a state directory is a docker proxy call (`blackfish vagrant ps`).
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from blackfish import __version__
from blackfish.model.commands import COMMANDS, SUMMARIES

DEBUG_ENV = "BLACKFISH_DEBUG"


class BlackfishGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)

    def resolve_command(self, ctx, args):
        name = args[0] if args else None
        if name and name not in COMMANDS and _is_stack(name):
            from blackfish.cli.docker_cmd import proxy_command

            return name, proxy_command(name), args[1:]
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx, formatter):
        # One line per command from SUMMARIES: importing every command module for its
        # docstring was a fifth of `blackfish --help`.
        limit = formatter.width - 6 - max(map(len, COMMANDS))
        with formatter.section("Commands"):
            formatter.write_dl([(name, click.Command(name, help=SUMMARIES[name]).get_short_help_str(limit))
                                for name in self.list_commands(ctx)])
        with formatter.section("Docker proxy"):
            formatter.write_dl([("STACK ARGS...", "Run `docker ARGS...` against a healthy manager of STACK")])


def _is_stack(name: str) -> bool:
    from blackfish.state import StateDir

    return StateDir(name).exists()


def _help_width() -> int:
    """The width click gives help text (the terminal's, at most 78), found without click's
    `import shutil`, which brings compression modules and costs 5 ms of every --help."""
    try:
        columns = int(os.environ.get("COLUMNS", "0")) or os.get_terminal_size(sys.__stdout__.fileno()).columns
    except (ValueError, OSError, AttributeError):
        columns = 80
    return max(min(columns, 80) - 2, 50)


@click.group(cls=BlackfishGroup, context_settings={"help_option_names": ["-h", "--help"], "terminal_width": _help_width()})
@click.version_option(__version__, "--version", prog_name="blackfish", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, envvar=DEBUG_ENV, help="Show tracebacks and the commands blackfish runs.")
@click.pass_context
def cli(ctx, debug):
    """Boot a TLS-secured Docker Swarm cluster from one nodes.yml, then drive it like a local engine.

    \b
      blackfish up vagrant                       boot the stack named in nodes.yml
      blackfish vagrant run --rm -it alpine sh   docker, proxied to a healthy manager
      blackfish certs install vagrant            trust the stack's CA on this machine
    """
    ctx.obj = {"debug": debug}
    if debug:
        from blackfish.tools import enable_debug

        enable_debug()


def main(argv: list[str] | None = None) -> None:
    from blackfish.cli.errors import run

    args = sys.argv[1:] if argv is None else argv
    sys.exit(run(cli, args, debug=_debug_requested(args)))


def _debug_requested(args: list[str]) -> bool:
    if os.environ.get(DEBUG_ENV, "").lower() in ("1", "true", "yes"):
        return True
    for arg in args:  # global options only: stop at the first command word
        if arg == "--debug":
            return True
        if not arg.startswith("-"):
            return False
    return False
