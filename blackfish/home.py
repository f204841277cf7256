"""Where a stack's state directory is: `$BLACKFISH_HOME/<stack>`, else `~/.blackfish/<stack>`.

A module of its own that imports only os: a warm proxy call and `blackfish validate` of a
new stack need no more than this path, and blackfish.state's imports (json, threading,
pathlib) would cost them more than the rest of their work (bench/bench_proxy.py, bench_cli.py).
"""

import os

HOME_ENV = "BLACKFISH_HOME"
RECORD = "stack.json"  # the stack's record (blackfish.record): a stack has state when it has one


def base() -> str:
    return os.environ.get(HOME_ENV) or os.path.join(os.path.expanduser("~"), ".blackfish")


def stack_path(stack_name: str) -> str:
    return os.path.join(base(), stack_name)


def has_record(stack_name: str) -> bool:
    return os.path.isfile(os.path.join(stack_path(stack_name), RECORD))
