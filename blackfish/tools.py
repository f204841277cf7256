"""Running external tools: find the binary or say what to install, log the command under
--debug, and put the tool's own output into the error when it fails.

Callers build argument lists in pure functions (testable without the tool) and hand them
to run(); what a failure means for the user (exit 3 for an unusable tool, 1 otherwise) is
decided by the caller, which knows the tool's error vocabulary.
"""

from __future__ import annotations

import logging
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from blackfish.errors import BlackfishError, MissingToolError

log = logging.getLogger("blackfish.tools")
# How much of a tool's output an error carries: the end, where tools say what went wrong.
DETAIL_LINES = 40


def enable_debug() -> None:
    """Show every command blackfish runs (and its working directory) on stderr."""
    logger = logging.getLogger("blackfish")
    if not any(getattr(h, "_blackfish", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("blackfish: debug: %(message)s"))
        handler._blackfish = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def require(name: str, hint: str, what: str | None = None) -> str:
    """The path of a tool on PATH, or a MissingToolError (exit 3) saying what to install."""
    path = shutil.which(name)
    if path is None:
        raise MissingToolError(f"{what or name} is not installed (no `{name}` on PATH)", hint=hint)
    return path


def log_command(argv: list[str], cwd: str | Path | None = None) -> None:
    where = f" (in {cwd})" if cwd else ""
    log.debug("+ %s%s", shlex.join(str(a) for a in argv), where)


def run(argv: list[str], *, env: dict | None = None, cwd: str | Path | None = None,
        check: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run a tool, capturing its output as text (stderr merged into stdout, in order).

    With check, a non-zero exit raises a BlackfishError naming the command, its output
    (last lines) as the detail."""
    log_command(argv, cwd)
    try:
        proc = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, errors="replace", timeout=timeout)
    except FileNotFoundError:
        raise MissingToolError(f"{argv[0]} is not installed") from None
    if check and proc.returncode != 0:
        raise BlackfishError(f"`{shlex.join(argv)}` failed (exit {proc.returncode})", detail=tail(proc.stdout))
    return proc


def tail(text: str | None, lines: int = DETAIL_LINES) -> str | None:
    """The last lines of a tool's output, for an error's detail (None when there is none)."""
    if not text or not text.strip():
        return None
    kept = text.rstrip().splitlines()
    cut = len(kept) - lines
    head = [f"... ({cut} earlier lines omitted)"] if cut > 0 else []
    return "\n".join(head + kept[-lines:])


def parse_version(text: str) -> tuple[int, ...] | None:
    """The first dotted version number in a tool's `--version` output: "Vagrant 2.3.4" -> (2, 3, 4)."""
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if match is None:
        return None
    return tuple(int(part) for part in match.groups() if part is not None)
