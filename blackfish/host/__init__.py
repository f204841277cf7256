"""This machine: what it has (detected once, before anything changes) and the commands that change it.

Used by `certs install/uninstall` and `dns`. Every change to the host is a Command: printed
before it runs (so the user sees what `sudo` asks for), prefixed with `sudo` when it needs root
and we are not root, and only printed under --dry-run. The printed text is a shell script: notes
are `# ` comments and a command's input is a here-document (`tee PATH <<'EOF'` writes a file), so `--dry-run > script.sh` can be read,
edited and run by hand.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from blackfish.errors import BlackfishError, MissingToolError


@dataclass(frozen=True)
class Host:
    """Facts about this machine. `root` prefixes every system path, so tests can point it at a
    directory tree of their own; `tools` maps a tool's name to its path (None when absent)."""

    platform: str
    home: Path
    root: Path = Path("/")
    tools: dict[str, str | None] = field(default_factory=dict)
    is_root: bool = False

    def has(self, tool: str) -> bool:
        return self.tools.get(tool) is not None

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")

    @property
    def is_mac(self) -> bool:
        return self.platform == "darwin"


def detect(tools: Iterable[str], root: Path = Path("/")) -> Host:
    """This machine as it is now, with the given tools looked up on PATH."""
    return Host(
        platform=sys.platform,
        home=Path.home(),
        root=root,
        tools={name: shutil.which(name) for name in tools},
        is_root=os.geteuid() == 0,
    )


def probe(argv: list[str]) -> subprocess.CompletedProcess:
    """Run a read-only command (a detection step, never printed) and capture its output."""
    try:
        return subprocess.run(argv, capture_output=True, text=True)
    except FileNotFoundError:
        return subprocess.CompletedProcess(argv, 127, "", f"{argv[0]}: not found")


@dataclass(frozen=True)
class Command:
    """One step that changes the host. `stdin` is fed to it (the content `tee` writes)."""

    argv: tuple[str, ...]
    privileged: bool = False
    stdin: str | None = None

    def text(self, sudo: bool) -> str:
        argv = (("sudo",) if sudo and self.privileged else ()) + self.argv
        shown = shlex.join(argv)
        if self.stdin is not None:
            shown += f" <<'EOF'\n{self.stdin}EOF"
        return shown


def copy_file(source: Path, target: Path, privileged: bool, mode: str = "0644") -> Command:
    return Command(("install", "-m", mode, str(source), str(target)), privileged)


def write_file(target: Path, content: str, privileged: bool) -> Command:
    return Command(("tee", str(target)), privileged, content)


def remove_file(target: Path, privileged: bool) -> Command:
    return Command(("rm", "-f", str(target)), privileged)


def make_dir(target: Path, privileged: bool) -> Command:
    return Command(("mkdir", "-p", str(target)), privileged)


class Runner:
    """Prints each command, then runs it (through sudo when it needs root and we are not root)."""

    def __init__(self, echo: Callable[[str], None], dry_run: bool = False, is_root: bool | None = None):
        self.echo = echo
        self.dry_run = dry_run
        self.sudo = not (os.geteuid() == 0 if is_root is None else is_root)

    def note(self, text: str) -> None:
        self.echo(f"# {text}")

    def run(self, commands: Iterable[Command]) -> None:
        for command in commands:
            self.echo(command.text(self.sudo))
            if not self.dry_run:
                self._execute(command)

    def _execute(self, command: Command) -> None:
        argv = list(command.argv)
        if self.sudo and command.privileged:
            if shutil.which("sudo") is None:
                raise MissingToolError("this step needs root and sudo is not installed",
                                       hint="Run the command as root, or install sudo")
            argv = ["sudo", *argv]
        # tee echoes what it writes: keep that out of the output shown when a step fails.
        stdout = subprocess.DEVNULL if command.stdin is not None else subprocess.PIPE
        try:
            proc = subprocess.run(argv, input=command.stdin, text=True, stdout=stdout, stderr=subprocess.PIPE)
        except FileNotFoundError:
            raise MissingToolError(f"{argv[0]} is not installed (needed for `{command.text(self.sudo)}`)") from None
        if proc.returncode != 0:
            output = (proc.stdout or "") + (proc.stderr or "")
            raise BlackfishError(f"`{shlex.join(argv)}` failed (exit {proc.returncode})", detail=output or None)
