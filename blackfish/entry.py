"""The console entry point: docker proxy calls, and a plain `validate` of a good file, skip
the CLI parser.

`blackfish STACK ps` with a manager chosen moments ago execs docker before click (40+ ms to
import) is loaded; a proxy call that must probe does so without click too, and reports its
errors as the CLI would (blackfish.errors.user_lines). Everything else goes to blackfish.cli.

Editors and git hooks run `blackfish validate` on every save, and importing click costs more
than the whole check (bench/bench_cli.py): a plain `validate [-f FILE]` of a file with no
problem and no warning is answered here. Anything else (another option, --help, a problem to
report) goes on to the CLI, which answers it the usual way.
"""

# No `from __future__ import annotations` here or in blackfish.proxy: on the warm proxy path
# every module import counts (bench/bench_proxy.py), and Python >= 3.10 reads these annotations.

import sys


def main() -> None:
    args = sys.argv[1:]
    if args and _may_be_stack(args[0]):
        from blackfish.proxy import exec_if_remembered

        exec_if_remembered(args[0], args[1:])  # returns only when there is no warm choice
        _proxy(args[0], args[1:])  # returns only when the CLI must answer
    if args[:1] == ["validate"]:
        _validate(args[1:])  # returns only when the CLI must answer
    from blackfish.cli import main as cli_main

    cli_main(args)


def _may_be_stack(word: str) -> bool:
    from blackfish.model.commands import COMMANDS

    return not word.startswith((".", "-")) and "/" not in word and word not in COMMANDS


def _proxy(stack: str, args: list[str]) -> None:
    """Probe the managers and exec docker, or report the error, for a stack that has state;
    else return. Without click: importing it is a fifth of a cold proxy call."""
    import os

    from blackfish import proxy
    from blackfish.home import has_record

    if os.environ.get("BLACKFISH_DEBUG") or not has_record(stack):
        return  # tracebacks, and words that name no stack, are the CLI's
    from blackfish.errors import BlackfishError, user_lines

    try:
        proxy.exec_docker(stack, args)  # replaces this process
    except BlackfishError as exc:
        print("\n".join(user_lines(exc)), file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


def _validate(args: list[str]) -> None:
    """Print the summary and exit 0 when args are a plain validate of a good file; else return."""
    nodes_file = _plain_file_option(args)
    if nodes_file is False:
        return
    from blackfish import groups
    from blackfish.model import config

    try:
        loaded = config.load(config.resolve_path(nodes_file), context_for=groups.context_for)
    except Exception:  # noqa: BLE001 - the CLI runs it again and reports it its usual way
        return
    if loaded.warnings:
        return
    print(summary(loaded))
    sys.exit(0)


def summary(loaded) -> str:
    """The line `blackfish validate` prints for a good file."""
    from blackfish.model.groups import group_name

    config = loaded.config
    return (f"{loaded.path}: ok: stack {config.stack!r}, group {group_name(config.group, loaded.path)!r}, "
            f"{len(config.nodes)} node(s), provider {config.provider}")


def _plain_file_option(args: list[str]) -> str | None | bool:
    """FILE of `-f FILE`, `--file FILE` or `--file=FILE`; None without options; False for anything else."""
    if not args:
        return None
    if len(args) == 2 and args[0] in ("-f", "--file") and not args[1].startswith("-"):
        return args[1]
    if len(args) == 1 and args[0].startswith("--file=") and len(args[0]) > len("--file="):
        return args[0].removeprefix("--file=")
    return False
