"""Applying a node's `#cloud-config` user-data the way coreos-cloudinit does, from outside.

The docker provider has no coreos-cloudinit inside its node containers, so it reads the
same user-data a Flatcar VM gets and applies it through a `Target` (put files, run a
command in the node). The order and the semantics follow coreos-cloudinit's
initialize/config.go and system/systemd.go:

1. `hostname`; `ssh_authorized_keys` for the `core` user;
2. `write_files`: content (optionally base64/gzip encoded), permissions (a quoted octal
   string, default "0644"), owner (`chown` after writing); parent directories 0755;
3. `coreos.units`, each in turn: its content (0644) and `drop_ins` into
   /etc/systemd/system (/run/systemd/system when `runtime`), `mask` (a /dev/null link;
   a runtime unit is unmasked otherwise), `enable`; then `systemctl daemon-reload`;
   then each unit's `command`, in order, waiting for its job like coreos-cloudinit does.

A failing unit command does not stop the rest (coreos-cloudinit only logs the job's
result); `apply()` returns those failures. Anything the document holds beyond this
subset, or a misspelt key (`drop-ins`, which Flatcar >= 3975.2.0 silently ignores), is
an error here rather than something skipped.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import gzip
import posixpath
import re
import secrets
import shlex
from dataclasses import dataclass
from typing import Callable, Protocol

import yaml

from blackfish.errors import ProviderError, UsageError

HEADER = "#cloud-config"
COMMANDS = ("start", "stop", "restart", "reload", "try-restart", "reload-or-restart", "reload-or-try-restart")
ENCODINGS = {"": (), "b64": ("b64",), "base64": ("b64",), "gz": ("gz",), "gzip": ("gz",),
             "gz+base64": ("b64", "gz"), "gzip+base64": ("b64", "gz"), "gz+b64": ("b64", "gz"), "gzip+b64": ("b64", "gz")}
CORE_HOME = "/home/core"

_TOP_KEYS = ("hostname", "ssh_authorized_keys", "write_files", "coreos")
_COREOS_KEYS = ("units",)
_FILE_KEYS = ("path", "content", "permissions", "owner", "encoding")
_UNIT_KEYS = ("name", "content", "enable", "mask", "runtime", "command", "drop_ins")
_DROP_IN_KEYS = ("name", "content")
_UNIT_NAME = re.compile(r"^[A-Za-z0-9:_.\\@-]+\.(service|socket|timer|path|mount|automount|target|slice|scope|swap|device)$")
_PERMISSIONS = re.compile(r"^0?[0-7]{3,4}$")


class CloudConfigError(UsageError):
    """The user-data (from the templates) is not the cloud-config subset blackfish applies."""


@dataclass(frozen=True)
class File:
    path: str
    data: bytes
    mode: int = 0o644
    owner: str | None = None


@dataclass(frozen=True)
class DropIn:
    name: str
    content: str


@dataclass(frozen=True)
class Unit:
    name: str
    content: str = ""
    enable: bool = False
    mask: bool = False
    runtime: bool = False
    command: str | None = None
    drop_ins: tuple[DropIn, ...] = ()

    @property
    def directory(self) -> str:
        return "/run/systemd/system" if self.runtime else "/etc/systemd/system"

    @property
    def path(self) -> str:
        return f"{self.directory}/{self.name}"


@dataclass(frozen=True)
class CloudConfig:
    hostname: str | None = None
    ssh_authorized_keys: tuple[str, ...] = ()
    write_files: tuple[File, ...] = ()
    units: tuple[Unit, ...] = ()


# --- what to do, as data -------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One file (or, with `link`, one symbolic link) to place in the node."""

    path: str
    data: bytes = b""
    mode: int = 0o644
    link: str | None = None


@dataclass(frozen=True)
class PutFiles:
    entries: tuple[Entry, ...]
    what: str


@dataclass(frozen=True)
class Run:
    argv: tuple[str, ...]
    what: str
    # A unit's `command` may fail without stopping the rest, as in coreos-cloudinit.
    check: bool = True


Step = PutFiles | Run


class Target(Protocol):
    """A node that user-data is applied to."""

    name: str

    def put(self, entries: tuple[Entry, ...]) -> None:
        """Create each entry (parents 0755, root-owned), replacing what is there."""

    def run(self, argv: tuple[str, ...]) -> tuple[int, str]:
        """Run a command in the node as root; its exit code and combined output."""


def parse(text: str, source: str = "user-data") -> CloudConfig:
    """The user-data as a CloudConfig; CloudConfigError names the first offending key."""
    if not text.startswith(HEADER):
        raise CloudConfigError(f"{source}: not a cloud-config (the first line must be {HEADER!r})")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CloudConfigError(f"{source}: invalid YAML: {exc}") from None
    doc = {} if doc is None else doc
    at = _Where(source)
    _mapping(doc, at, _TOP_KEYS)
    coreos = doc.get("coreos") or {}
    _mapping(coreos, at.key("coreos"), _COREOS_KEYS)
    return CloudConfig(
        hostname=_str(doc.get("hostname"), at.key("hostname"), optional=True),
        ssh_authorized_keys=tuple(_str(k, at.key("ssh_authorized_keys").index(i)).strip()
                                  for i, k in enumerate(_list(doc.get("ssh_authorized_keys"), at.key("ssh_authorized_keys")))),
        write_files=tuple(_file(f, at.key("write_files").index(i))
                          for i, f in enumerate(_list(doc.get("write_files"), at.key("write_files")))),
        units=tuple(_unit(u, at.key("coreos").key("units").index(i))
                    for i, u in enumerate(_list(coreos.get("units"), at.key("coreos").key("units")))),
    )


def plan(config: CloudConfig, current_hostname: str | None = None) -> list[Step]:
    """The ordered steps that apply `config` to a node (pure: no node needed)."""
    steps: list[Step] = []
    if config.hostname and config.hostname != current_hostname:
        steps.append(Run(("hostname", config.hostname), "set the hostname"))
    if config.ssh_authorized_keys:
        keys = "".join(k + "\n" for k in config.ssh_authorized_keys)
        steps.append(Run(("sh", "-c", "id -u core >/dev/null 2>&1 || useradd --create-home --shell /bin/sh core"),
                         "create the core user"))
        steps.append(PutFiles((Entry(f"{CORE_HOME}/.ssh/authorized_keys", keys.encode(), 0o600),), "ssh_authorized_keys"))
        steps.append(Run(("chown", "-R", "core:", f"{CORE_HOME}/.ssh"), "give the core user its keys"))
    if config.write_files:
        steps.append(PutFiles(tuple(Entry(f.path, f.data, f.mode) for f in config.write_files), "write_files"))
        owned = [f for f in config.write_files if f.owner]
        if owned:
            script = " && ".join(f"chown {shlex.quote(f.owner)} {shlex.quote(f.path)}" for f in owned)
            steps.append(Run(("sh", "-c", script), "set write_files owners"))
    steps.extend(_unit_steps(config.units))
    return steps


def apply(config: CloudConfig, target: Target, current_hostname: str | None = None,
          before_systemd: Callable[[], None] | None = None) -> list[str]:
    """Apply `config` to `target`; return the unit commands that failed (with output).

    Raises ProviderError when a step other than a unit command fails. Consecutive commands go
    to the node together (`together()`): one command in a node costs more than most steps.
    `before_systemd()` is called once, before the first command that talks to systemd (the
    docker provider waits there for the node's systemd to boot: the files go in meanwhile)."""
    failures = []
    for group in _groups(plan(config, current_hostname)):
        if isinstance(group, PutFiles):
            target.put(group.entries)
            continue
        if before_systemd and any(step.argv[0] == "systemctl" for step in group):
            before_systemd()
            before_systemd = None
        for step, (code, output) in zip(group, together(target, group)):
            if code != 0:
                message = f"{target.name}: {step.what} (`{shlex.join(step.argv)}`) failed with exit code {code}"
                if step.check:
                    raise ProviderError(message, detail=output.strip() or None)
                failures.append(f"{message}: {output.strip()}" if output.strip() else message)
    return failures


def together(target: Target, runs: list[Run]) -> list[tuple[int, str]]:
    """Run the commands in order as one `sh` script in the node: each one's exit code and
    output, up to and including the first failing set-up step (`check`), after which the
    script stops as apply() would."""
    if len(runs) == 1:
        return [target.run(runs[0].argv)]
    mark = f"blackfish-step-{secrets.token_hex(8)}"  # a line no command prints
    lines = []
    for i, run in enumerate(runs):
        lines.append(f"out=$({shlex.join(run.argv)} 2>&1); code=$?; printf '{mark} {i} %s\\n%s\\n' \"$code\" \"$out\"")
        if run.check:
            lines.append('[ "$code" = 0 ] || exit 0')
    code, output = target.run(("sh", "-c", "\n".join(lines)))
    results: list[tuple[int, list[str]]] = []
    for line in output.splitlines():
        words = line.split(" ")
        if len(words) == 3 and words[0] == mark and words[1] == str(len(results)) and words[2].isdigit():
            results.append((int(words[2]), []))
        elif results:
            results[-1][1].append(line)
    stopped = bool(results) and results[-1][0] != 0 and runs[len(results) - 1].check
    if code != 0 or not (len(results) == len(runs) or stopped):
        raise ProviderError(f"{target.name}: the commands did not all run (`sh` exited with {code})",
                            detail=output.strip() or None)
    return [(code, "\n".join(text)) for code, text in results]


def _groups(steps: list[Step]) -> list[PutFiles | list[Run]]:
    """Each PutFiles alone, consecutive Runs together."""
    groups: list[PutFiles | list[Run]] = []
    for step in steps:
        if isinstance(step, Run) and groups and isinstance(groups[-1], list):
            groups[-1].append(step)
        else:
            groups.append([step] if isinstance(step, Run) else step)
    return groups


def _unit_steps(units: tuple[Unit, ...]) -> list[Step]:
    entries: list[Entry] = []
    unmask = []
    for unit in units:
        if unit.mask:
            # coreos-cloudinit replaces whatever is at the unit's path with the link.
            entries.append(Entry(unit.path, link="/dev/null"))
        elif unit.content:
            entries.append(Entry(unit.path, unit.content.encode()))
        elif unit.runtime:
            unmask.append(unit.path)
        entries.extend(Entry(f"{unit.path}.d/{d.name}", d.content.encode())
                       for d in unit.drop_ins if d.name and d.content)
    steps: list[Step] = []
    if entries:
        steps.append(PutFiles(tuple(entries), "units and drop-ins"))
    if unmask:
        # coreos-cloudinit's UnmaskUnit: remove the file only when it is a mask (empty or /dev/null).
        script = "; ".join(f'p={shlex.quote(p)}; if [ ! -s "$p" ] || [ "$(readlink "$p")" = /dev/null ]; then rm -f "$p"; fi'
                           for p in unmask)
        steps.append(Run(("sh", "-c", script), "unmask runtime units"))
    for runtime in (False, True):
        names = [u.name for u in units if u.enable and u.runtime == runtime]
        if names:
            # --no-reload: one daemon-reload follows for every change, as coreos-cloudinit does it
            # (EnableUnitFiles over D-Bus, then Reload); systemctl would reload after each enable.
            steps.append(Run(("systemctl", "enable", "--force", "--no-reload", *(["--runtime"] if runtime else []), *names),
                             "enable units"))
    if any(u.content or u.mask or any(d.name and d.content for d in u.drop_ins) for u in units):
        steps.append(Run(("systemctl", "daemon-reload"), "reload systemd"))
    for unit in units:
        if unit.command:
            steps.append(Run(("systemctl", unit.command, unit.name), f"{unit.command} {unit.name}", check=False))
    return steps


# --- strict decoding ---------------------------------------------------------------

@dataclass(frozen=True)
class _Where:
    source: str
    path: str = ""

    def key(self, name: str) -> "_Where":
        return _Where(self.source, f"{self.path}.{name}" if self.path else name)

    def index(self, i: int) -> "_Where":
        return _Where(self.source, f"{self.path}[{i}]")

    def error(self, message: str) -> CloudConfigError:
        return CloudConfigError(f"{self.source}: {self.path + ': ' if self.path else ''}{message}")


def _mapping(value, at: _Where, keys: tuple[str, ...]) -> dict:
    if not isinstance(value, dict):
        raise at.error(f"expected a mapping, got {type(value).__name__}")
    for key in value:
        if key not in keys:
            close = difflib.get_close_matches(str(key), keys, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; blackfish applies only: {', '.join(keys)}"
            raise at.key(str(key)).error(f"unknown key{hint}")
    return value


def _list(value, at: _Where) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise at.error(f"expected a list, got {type(value).__name__}")
    return value


def _str(value, at: _Where, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise at.error(f"expected a string, got {type(value).__name__}")
    return value


def _bool(value, at: _Where) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise at.error(f"expected true or false, got {value!r}")
    return value


def _file(value, at: _Where) -> File:
    _mapping(value, at, _FILE_KEYS)
    path = _str(value.get("path"), at.key("path"))
    if not path.startswith("/") or posixpath.normpath(path) != path:
        raise at.key("path").error(f"must be an absolute, normalised path, got {path!r}")
    permissions = value.get("permissions", "0644")
    if not isinstance(permissions, str) or not _PERMISSIONS.match(permissions):
        raise at.key("permissions").error(f"must be a quoted octal string like \"0644\", got {permissions!r}")
    encoding = _str(value.get("encoding", ""), at.key("encoding"))
    if encoding not in ENCODINGS:
        raise at.key("encoding").error(f"unknown encoding {encoding!r}; expected one of: {', '.join(e for e in ENCODINGS if e)}")
    data = _str(value.get("content", ""), at.key("content")).encode()
    try:
        for layer in ENCODINGS[encoding]:
            data = base64.b64decode(data, validate=False) if layer == "b64" else gzip.decompress(data)
    except (binascii.Error, OSError, EOFError) as exc:
        raise at.key("content").error(f"cannot decode as {encoding}: {exc}") from None
    return File(path=path, data=data, mode=int(permissions, 8), owner=_str(value.get("owner"), at.key("owner"), optional=True))


def _unit(value, at: _Where) -> Unit:
    _mapping(value, at, _UNIT_KEYS)
    name = _str(value.get("name"), at.key("name"))
    if not _UNIT_NAME.match(name):
        raise at.key("name").error(f"{name!r} is not a systemd unit name this provider can place "
                                   "(network units are not supported)")
    command = _str(value.get("command"), at.key("command"), optional=True)
    if command is not None and command not in COMMANDS:
        raise at.key("command").error(f"unknown command {command!r}; expected one of: {', '.join(COMMANDS)}")
    drop_ins = []
    for i, d in enumerate(_list(value.get("drop_ins"), at.key("drop_ins"))):
        where = at.key("drop_ins").index(i)
        _mapping(d, where, _DROP_IN_KEYS)
        drop_in = DropIn(_str(d.get("name"), where.key("name")), _str(d.get("content", ""), where.key("content")))
        if "/" in drop_in.name or not drop_in.name.endswith(".conf"):
            raise where.key("name").error(f"must be a file name ending in .conf, got {drop_in.name!r}")
        drop_ins.append(drop_in)
    return Unit(
        name=name,
        content=_str(value.get("content", ""), at.key("content")),
        enable=_bool(value.get("enable"), at.key("enable")),
        mask=_bool(value.get("mask"), at.key("mask")),
        runtime=_bool(value.get("runtime"), at.key("runtime")),
        command=command,
        drop_ins=tuple(drop_ins),
    )
