"""The user-facing error types and the exit codes they map to.

Everything the core raises for a user to read is a BlackfishError; the CLI prints its
message once, as one line per problem, and exits with its code. Tracebacks only with --debug.
"""

from __future__ import annotations

from typing import NamedTuple

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_MISSING_TOOL = 3


class BlackfishError(Exception):
    """Something went wrong that the user can act on; the message says what."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, *, detail: str | None = None):
        super().__init__(message)
        self.message = message
        # Extra output (a tool's log, say) shown after the message.
        self.detail = detail

    def lines(self) -> list[str]:
        return [self.message]


class UsageError(BlackfishError):
    """Bad input on the command line or in a file the user wrote."""

    exit_code = EXIT_BAD_INPUT


class Problem(NamedTuple):
    """One finding about a config file, with the place it was found.

    A NamedTuple, not a dataclass: `dataclasses` imports `inspect`, a fifth of the time of
    `blackfish validate` (bench/bench_cli.py)."""

    file: str
    line: int
    column: int
    path: str
    message: str
    warning: bool = False

    def __str__(self) -> str:
        kind = "warning: " if self.warning else ""
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.column}: {kind}{where}{self.message}"


class ConfigError(UsageError):
    """nodes.yml is invalid; carries every problem found, one line each."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class MissingToolError(BlackfishError):
    """An external tool (vagrant, docker CLI, VirtualBox, ...) is absent or unusable."""

    exit_code = EXIT_MISSING_TOOL

    def __init__(self, message: str, *, hint: str | None = None, detail: str | None = None):
        super().__init__(f"{message}. {hint}" if hint else message, detail=detail)
        self.hint = hint


class ProviderError(BlackfishError):
    """The machinery that boots nodes failed (an unusable provider exits 3 via MissingToolError)."""


def user_lines(exc: BlackfishError) -> list[str]:
    """What the user reads for exc: one line per problem, `blackfish: error: ` before each
    that does not already say where it comes from (FILE:LINE:COL: ...), then the detail."""
    lines = [line if _has_place(line) else f"blackfish: error: {line}" for line in exc.lines()]
    return lines + ([exc.detail.rstrip()] if exc.detail else [])


def _has_place(line: str) -> bool:
    head = line.split(": ", 1)[0]
    parts = head.rsplit(":", 2)
    return len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit()
