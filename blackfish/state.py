"""The state directory of a stack: its layout, atomic writes, permissions and lock.

`$BLACKFISH_HOME/<stack>/` (default `~/.blackfish/<stack>/`) holds the PKI, the rendered
user-data, generated secrets and `stack.json` (the plan and what booted it; see record.py).
The directory is 0700 and every file is written atomically (temp file + rename), private
material 0600, so an interrupted command never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterator

from blackfish.errors import BlackfishError, UsageError

HOME_ENV = "BLACKFISH_HOME"

# The layout of a state directory: every name blackfish gives a file in it, in one place.
# (The proxy's warm path repeats RECORD, PROXY_CACHE and the client files to stay import-light;
# a unit test keeps them equal.)
RECORD = "stack.json"  # blackfish.record
LOCK = ".lock"
SECRETS = "secrets"  # secrets/<name>, generated secrets (0600)
CA_CERT, CA_KEY = "ca.pem", "ca-key.pem"
# With ca.pem, these make the directory a DOCKER_CERT_PATH for the docker CLI.
CLIENT_CERT, CLIENT_KEY = "cert.pem", "key.pem"
CLIENT_PFX, CLIENT_PFX_PASSWORD = "client.pfx", "client.pfx.password"
SSH_KEY, SSH_PUBLIC_KEY = "ssh/id_ed25519", "ssh/id_ed25519.pub"
NODES = "nodes"
VAGRANT_DIR = "vagrant"  # the Vagrant providers' Vagrantfile, machine records and logs
PROXY_CACHE = "proxy-cache"


def node_cert(name: str) -> str:
    return f"{NODES}/{name}/{CLIENT_CERT}"


def node_key(name: str) -> str:
    return f"{NODES}/{name}/{CLIENT_KEY}"


def user_data_path(node_name: str) -> str:
    """Where a node's user-data lives, relative to the state directory."""
    return f"{NODES}/{node_name}/user-data"


def home() -> Path:
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".blackfish")


@dataclass
class _Held:
    """This process's hold on one stack's lock file: the thread owning it, how deeply."""

    owner: threading.RLock = field(default_factory=threading.RLock)
    depth: int = 0
    file: IO | None = None


_HELD: dict[Path, _Held] = {}
_HELD_GUARD = threading.Lock()


class StateDir:
    def __init__(self, stack: str, base: Path | None = None):
        self.stack = stack
        self.path = (base or home()) / stack

    def __repr__(self) -> str:
        return f"StateDir({str(self.path)!r})"

    def exists(self) -> bool:
        return (self.path / RECORD).is_file()

    def ensure(self) -> Path:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.path, 0o700)
        return self.path

    def file(self, rel: str | Path) -> Path:
        return self.path / rel

    def read(self, rel: str | Path) -> bytes | None:
        try:
            return (self.path / rel).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, rel: str | Path, data: bytes | str, mode: int = 0o600) -> bool:
        """Write atomically; keep the file (bytes and mtime) when the content is unchanged.

        Returns True when the file was written."""
        if isinstance(data, str):
            data = data.encode()
        target = self.path / rel
        if target.is_file() and target.read_bytes() == data:
            if (target.stat().st_mode & 0o777) != mode:
                os.chmod(target, mode)
            return False
        self.ensure()
        self._make_dirs(target.parent)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return True

    def _make_dirs(self, directory: Path) -> None:
        # mkdir(parents=True) gives intermediate directories the umask's mode; every
        # directory under the state dir is 0700.
        missing = []
        while not directory.is_dir():
            missing.append(directory)
            directory = directory.parent
        for d in reversed(missing):
            d.mkdir(mode=0o700, exist_ok=True)
            os.chmod(d, 0o700)

    def remove(self, rel: str | Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.path / rel).unlink()

    @contextlib.contextmanager
    def lock(self, wait: bool = True) -> Iterator[None]:
        """An exclusive lock, so two commands on one stack cannot interleave their writes.

        Re-entrant within a thread: a step that locks (pki.ensure_pki) may run inside a
        command that already holds the lock. flock alone would deadlock there, because a
        second open() of the lock file is a second lock owner."""
        self.ensure()
        with _HELD_GUARD:
            held = _HELD.setdefault(self.path.resolve(), _Held())
        if not held.owner.acquire(blocking=wait):
            raise self._busy()
        try:
            if held.depth == 0:
                held.file = open(self.path / LOCK, "a")
                try:
                    fcntl.flock(held.file, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
                except BlockingIOError:
                    held.file.close()
                    raise self._busy() from None
            held.depth += 1
            try:
                yield
            finally:
                held.depth -= 1
                if held.depth == 0:
                    fcntl.flock(held.file, fcntl.LOCK_UN)
                    held.file.close()
        finally:
            held.owner.release()

    def _busy(self) -> BlackfishError:
        return BlackfishError(f"another blackfish command is working on stack {self.stack!r}; try again when it ends")

    def secret(self, name: str, given: str | None = None, generate: Callable[[], str] | None = None) -> str:
        """A secret from nodes.yml when given, else the stored one, else a new one (stored 0600).

        Never printed; stored under secrets/<name>, a given one too: a later nodes file of the
        same stack (a group, docs/groups.md) that leaves it out must use the same."""
        rel = Path(SECRETS) / name
        if given is not None:
            self.write(rel, given + "\n", mode=0o600)
            return given
        stored = self.read(rel)
        if stored is not None:
            return stored.decode().strip()
        value = (generate or (lambda: secrets.token_urlsafe(32)))()
        self.write(rel, value + "\n", mode=0o600)
        return value

    def record(self) -> dict:
        """stack.json as stored (blackfish.record reads it: the schema and its migrations)."""
        raw = self.read(RECORD)
        if raw is None:
            raise UsageError(f"stack {self.stack!r} has no state in {self.path} (run `blackfish up` first)")
        try:
            record = json.loads(raw)
        except ValueError as exc:
            raise self._damaged(f"not JSON: {exc}") from None
        if not isinstance(record, dict):
            raise self._damaged("not a JSON object")
        return record

    def _damaged(self, why: str) -> BlackfishError:
        return BlackfishError(f"{self.path / RECORD}: damaged ({why}); remove it and run `blackfish up` again")

    def save_record(self, record: dict) -> None:
        self.write(RECORD, json.dumps(record, indent=2, sort_keys=True) + "\n", mode=0o600)

