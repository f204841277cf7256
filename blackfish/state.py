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
from concurrent.futures import Future, ThreadPoolExecutor
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
CLIENTS_CA_CERT, CLIENTS_CA_KEY = "clients-ca.pem", "clients-ca-key.pem"  # the CA engines trust (docs/security.md)
# With ca.pem, these make the directory a DOCKER_CERT_PATH for the docker CLI.
CLIENT_CERT, CLIENT_KEY = "cert.pem", "key.pem"
CLIENT_PFX, CLIENT_PFX_PASSWORD = "client.pfx", "client.pfx.password"
SSH_KEY, SSH_PUBLIC_KEY = "ssh/id_ed25519", "ssh/id_ed25519.pub"
NODES = "nodes"
VAGRANT_DIR = "vagrant"  # the Vagrant providers' Vagrantfile, machine records and logs
PROXY_CACHE = "proxy-cache"
PKI_CHECKED = "pki-checked.json"  # blackfish.pki: leaves found current
RENDER_MEMO = "render-memo.json"  # blackfish.render.memo: what each user-data was made from


def node_cert(name: str) -> str:
    return f"{NODES}/{name}/{CLIENT_CERT}"


def node_key(name: str) -> str:
    return f"{NODES}/{name}/{CLIENT_KEY}"


def manager_client_cert(name: str) -> str:
    """A manager's engine-client certificate, from the clients CA."""
    return f"{NODES}/{name}/client-cert.pem"


def manager_client_key(name: str) -> str:
    return f"{NODES}/{name}/client-key.pem"


def user_data_path(node_name: str) -> str:
    """Where a node's user-data lives, relative to the state directory."""
    return f"{NODES}/{node_name}/user-data"


TMP_SUFFIX = ".tmp"
# Files that may be world-readable (inside the 0700 directory): certificates and public keys.
PUBLIC_SUFFIXES = ("ca.pem", "cert.pem", ".pub")
# Threads writing a batch (StateDir.batch): enough for the journal to take many fsyncs per commit.
FLUSH_THREADS = 16


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
        self._flush: ThreadPoolExecutor | None = None  # set inside batch()
        self._pending: dict[str, tuple[bytes, Future]] = {}  # written, not yet on disk
        self._flushed: list[Future] = []

    def __repr__(self) -> str:
        return f"StateDir({str(self.path)!r})"

    def exists(self) -> bool:
        return (self.path / RECORD).is_file()

    def ensure(self) -> Path:
        # BLACKFISH_HOME and the stack's directory are 0700 whatever the umask (issue 16, 11):
        # mkdir(parents=True) would give the home the umask's mode.
        for directory in (self.path.parent, self.path):
            if not directory.is_dir():
                directory.parent.mkdir(parents=True, exist_ok=True)
                directory.mkdir(mode=0o700, exist_ok=True)
                os.chmod(directory, 0o700)
        os.chmod(self.path, 0o700)
        return self.path

    def file(self, rel: str | Path) -> Path:
        return self.path / rel

    def read(self, rel: str | Path) -> bytes | None:
        target = f"{self.path}/{rel}"  # a str: Path objects cost more than the read, 5 per node on a render
        pending = self._pending.get(target)
        if pending is not None:  # written in this batch, still being flushed
            return pending[0]
        self.refuse_links(Path(target))
        try:
            with open(target, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def refuse_links(self, target: Path) -> None:
        """Blackfish neither reads nor writes through a symbolic link inside the state directory:
        a linked nodes/<n> would put a node's private key wherever the link points."""
        inside = self.path
        for part in target.relative_to(self.path).parts:
            inside = inside / part
            if inside.is_symlink():
                raise UsageError(f"{inside} is a symbolic link; blackfish does not follow links in its state "
                                 "directory: remove it and run the command again")

    def write(self, rel: str | Path, data: bytes | str, mode: int = 0o600) -> bool:
        """Write atomically; keep the file (bytes and mtime) when the content is unchanged.

        Returns True when the file was written. Inside batch() the file is in place when
        the batch ends (and read() returns the new bytes at once)."""
        if isinstance(data, str):
            data = data.encode()
        target = f"{self.path}/{rel}"
        if self.read(rel) == data:  # read() refuses a link on the way
            if os.path.isfile(target) and (os.stat(target).st_mode & 0o777) != mode:
                os.chmod(target, mode)
            return False
        if self._flush is None:
            self._write_new(target, data, mode)
            return True
        earlier = self._pending.get(target)
        if earlier is not None:  # the same file twice in one batch: the later bytes must win
            earlier[1].result()
        flushing = self._flush.submit(self._write_new, target, data, mode)
        self._flushed.append(flushing)
        self._pending[target] = (data, flushing)
        flushing.add_done_callback(lambda _: self._settled(target, flushing))
        return True

    def _write_new(self, target: str, data: bytes, mode: int) -> None:
        """Temp file, fsync, rename: the file is either the old one or the new one, never half."""
        fd, tmp = self._temp_for(Path(target))
        try:
            with open(fd, "wb") as f:
                os.fchmod(fd, mode)
                f.write(data)
                f.flush()
                os.fsync(fd)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def _temp_for(self, target: Path) -> tuple[int, str]:
        """A new temp file next to target; the directories are made (0700) only when missing."""
        # The PID in the name lets a later command remove what a killed one left (tidy).
        prefix = f".{target.name}.{os.getpid()}."
        try:
            return tempfile.mkstemp(dir=target.parent, prefix=prefix, suffix=TMP_SUFFIX)
        except FileNotFoundError:
            self.ensure()
            self._make_dirs(target.parent)
            return tempfile.mkstemp(dir=target.parent, prefix=prefix, suffix=TMP_SUFFIX)

    def _settled(self, target: str, flushing: Future) -> None:
        # On disk now: stop holding its bytes (10,000 nodes' user-data would be 250 MB).
        if self._pending.get(target, (None, None))[1] is flushing:
            del self._pending[target]

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Writes inside the block go to disk from a pool of threads while the caller goes on;
        all are in place when the block ends (which raises the first failure), and read()
        returns the new bytes at once.

        Each write stays atomic (temp file, fsync, rename). On this kind of machine creating
        a file and its fsync cost more than rendering it (bench/bench_render.py), and they
        wait in the kernel: the threads overlap them with each other and with the caller's
        work, and the file system takes many fsyncs per journal commit. Re-entrant: an
        inner batch joins the outer one.
        """
        if self._flush is not None:
            yield
            return
        self._flush = ThreadPoolExecutor(FLUSH_THREADS, thread_name_prefix="blackfish-flush")
        try:
            yield
        finally:  # even when the block raised: no thread may go on writing behind the caller's back
            flush, self._flush = self._flush, None
            flush.shutdown(wait=True)
            flushed, self._flushed, self._pending = self._flushed, [], {}
        for done in flushed:
            done.result()  # raises the first failure

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
                held.file = os.fdopen(os.open(self.path / LOCK, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a")
                os.fchmod(held.file.fileno(), 0o600)
                try:
                    fcntl.flock(held.file, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
                except BlockingIOError:
                    held.file.close()
                    raise self._busy() from None
                self.tidy()
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

    def tidy(self) -> None:
        """Repair what an interrupted or careless past left: temporary files of writers that
        died (kill -9 mid-write leaves a private key in `.key.pem.<pid>.*.tmp`), and modes
        loosened by hand or by a umask (directories 0700, private files 0600). Runs whenever
        a command takes the lock; never follows a link."""
        for directory, dirs, files in os.walk(self.path):
            _tighten(Path(directory), 0o700)
            for name in files:
                path = Path(directory, name)
                if path.is_symlink():
                    continue
                if name.endswith(TMP_SUFFIX) and not _writer_alive(name):
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                    continue
                _tighten(path, 0o644 if name.endswith(PUBLIC_SUFFIXES) else 0o600)

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

    def _damaged(self, why: str) -> UsageError:
        return UsageError(f"{self.path / RECORD}: damaged ({why}); remove it and run `blackfish up` again")

    def save_record(self, record: dict) -> None:
        self.write(RECORD, json.dumps(record, indent=2, sort_keys=True) + "\n", mode=0o600)



def _tighten(path: Path, allowed: int) -> None:
    """Clear the mode bits of path that allowed does not grant (never loosens)."""
    try:
        mode = path.lstat().st_mode & 0o777
        if mode & ~allowed:
            os.chmod(path, mode & allowed)
    except FileNotFoundError:
        pass


def _writer_alive(tmp_name: str) -> bool:
    """Whether the process that made `.<name>.<pid>.<random>.tmp` still runs (True when unknown)."""
    parts = tmp_name.rsplit(".", 3)
    if len(parts) != 4 or not parts[1].isdigit():
        return True
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
