"""The console entry point: a docker proxy call with a remembered manager skips the CLI parser.

`blackfish STACK ps` with a manager chosen moments ago execs docker before click (40+ ms to
import) is loaded; everything else, including every proxy call that must probe, goes to
blackfish.cli, which reports errors the usual way.
"""

from __future__ import annotations

import sys


def main() -> None:
    args = sys.argv[1:]
    if args and _may_be_stack(args[0]):
        from blackfish.proxy import exec_if_remembered

        exec_if_remembered(args[0], args[1:])  # returns only when there is no warm choice
    from blackfish.cli import main as cli_main

    cli_main(args)


def _may_be_stack(word: str) -> bool:
    from blackfish.model.commands import COMMANDS

    return not word.startswith((".", "-")) and "/" not in word and word not in COMMANDS
