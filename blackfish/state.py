"""The state directory of a stack: its layout, atomic writes, permissions and lock.

`$BLACKFISH_HOME/<stack>/` (default `~/.blackfish/<stack>/`) holds the PKI, the rendered
user-data, generated secrets and `stack.json` (the plan and what booted it; see record.py).
The directory is 0700 and every file is written atomically (temp file + rename), private
material 0600, so an interrupted command never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import itertools
import json
import os
import stat
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING, Callable, Iterator

from blackfish.errors import BlackfishError, UsageError
from blackfish.home import RECORD, base

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor
# tempfile, secrets and concurrent.futures are imported where a file is written: `blackfish
# validate` and a warm proxy call write none, and those three cost it a third (bench_cli.py).

# The layout of a state directory: every name blackfish gives a file in it, in one place.
# (RECORD is blackfish.home's; the proxy's warm path repeats PROXY_CACHE and the client files
# to stay import-light, and a unit test keeps them equal.)
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


# A node's files lie side by side in nodes/, named after it: `nodes/<name>.<file>` (node names
# are DNS labels, without dots). A directory per node cost a first render of 1000 nodes a
# quarter of its time on a file system without a journal (docs/performance.md); state
# directories of earlier versions are moved to this layout when a command takes the lock.
NODE_FILES = ("cert.pem", "key.pem", "client-cert.pem", "client-key.pem", "user-data")


def node_file(name: str, file: str) -> str:
    return f"{NODES}/{name}.{file}"


def node_cert(name: str) -> str:
    return node_file(name, CLIENT_CERT)


def node_key(name: str) -> str:
    return node_file(name, CLIENT_KEY)


def manager_client_cert(name: str) -> str:
    """A manager's engine-client certificate, from the clients CA."""
    return node_file(name, "client-cert.pem")


def manager_client_key(name: str) -> str:
    return node_file(name, "client-key.pem")


def user_data_path(node_name: str) -> str:
    """Where a node's user-data lives, relative to the state directory."""
    return node_file(node_name, "user-data")


def node_of(file_name: str) -> str:
    """The node a file (or an earlier version's directory) in nodes/ belongs to."""
    return file_name.partition(".")[0]


TMP_SUFFIX = ".tmp"
# Files that may be world-readable (inside the 0700 directory): certificates and public keys.
PUBLIC_SUFFIXES = ("ca.pem", "cert.pem", ".pub")
# Threads writing a batch's temp files (StateDir.batch): they overlap the kernel's work of
# creating files (CPU, once syncfs spares each its fsync) with the caller's. More cost more
# CPU in switches than they save on a 2-core machine (bench/bench_render.py).
FLUSH_THREADS = 4
# Files up to this size that a batch reads are kept until it ends (keys, certificates, secrets;
# not user-data, 24 KB a node).
READ_ONCE_BYTES = 8 * 1024
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_TEMP_NUMBERS = itertools.count()  # next() on it is atomic: the batch's threads share it


def home() -> Path:
    return Path(base())


class _Held:
    """This process's hold on one stack's lock file: the thread owning it, how deeply."""

    def __init__(self):
        self.owner = threading.RLock()
        self.depth = 0
        self.file: IO | None = None


_HELD: dict[Path, _Held] = {}
_HELD_GUARD = threading.Lock()


class _Staged:
    """One write of a batch: its bytes until its temp file holds them, then only that file's name
    (a file up to READ_ONCE_BYTES keeps its bytes: the batch reads it back without a syscall)."""

    __slots__ = ("data", "tmp", "done")

    def __init__(self, data: bytes):
        self.data: bytes | None = data
        self.tmp: str | None = None
        self.done: Future | None = None

    def content(self) -> bytes:
        data = self.data  # once None, tmp is set (_stage sets tmp first)
        if data is not None:
            return data
        with open(self.tmp, "rb") as f:
            return f.read()


class StateDir:
    def __init__(self, stack: str, base: Path | None = None):
        self.stack = stack
        self.path = (base or home()) / stack
        self._flush: ThreadPoolExecutor | None = None  # set inside batch()
        self._pending: dict[str, _Staged] = {}  # written in this batch, renamed into place at its end
        self._dropped: list[_Staged] = []  # overwritten or removed in this batch: temp files to delete
        self._plain_dirs: set[str] = set()  # directories refuse_links() found not to be links
        self._read_in_batch: dict[str, bytes | None] = {}  # small files as read in this batch
        self._absent_in_batch: set[str] = set()  # directories this batch found missing

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
        if pending is not None:  # written in this batch, not yet in place
            return pending.content()
        # The batch holds the lock, so no one else changes the files: the PKI and the templates
        # read each node's key and certificate once between them, not once each, and a first
        # render looks for a new node's files with one lstat (each missed lookup waited for the
        # writer threads' turn with the GIL: a fifth of a first render).
        in_batch = self._flush is not None
        if target in self._read_in_batch:
            return self._read_in_batch[target]
        directory = target.rpartition("/")[0]
        if directory in self._absent_in_batch:
            return None
        if not self.refuse_links(target):
            if in_batch:
                self._absent_in_batch.add(directory)
            return None
        try:
            with open(target, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            data = None
        if in_batch and (data is None or len(data) <= READ_ONCE_BYTES):
            self._read_in_batch[target] = data
        return data

    def stat(self, rel: str) -> os.stat_result | None:
        """The file's size and times as they are on disk (None when it is missing)."""
        target = f"{self.path}/{rel}"
        self.refuse_links(target)
        try:
            return os.stat(target)
        except FileNotFoundError:
            return None

    def stat_as_written(self, rel: str) -> os.stat_result | None:
        """stat() of what this batch wrote to rel, as it will be in place (a rename keeps the
        file's size and mtime); waits for its temp file. Outside a batch, or for a file the
        batch did not write, what is on disk."""
        staged = self._pending.get(f"{self.path}/{rel}")
        if staged is None:
            return self.stat(rel)
        staged.done.result()
        return os.stat(staged.tmp)

    def refuse_links(self, target: Path | str) -> bool:
        """Blackfish neither reads nor writes through a symbolic link inside the state directory:
        a linked nodes/ (or a node's key file) would put a private key wherever the link
        points. Returns whether the directory that holds target exists."""
        inside, target = str(self.path), str(target)
        if not target.startswith(inside + "/"):
            raise ValueError(f"{target} is not inside {inside}")
        for part in target[len(inside) + 1:].split("/"):
            inside = f"{inside}/{part}"
            if inside in self._plain_dirs:  # checked already: a render reads 9 files per node
                continue
            try:
                mode = os.lstat(inside).st_mode
            except FileNotFoundError:
                return inside == target
            if stat.S_ISLNK(mode):
                raise UsageError(f"{inside} is a symbolic link; blackfish does not follow links in its state "
                                 "directory: remove it and run the command again")
            if stat.S_ISDIR(mode):
                self._plain_dirs.add(inside)
        return True

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
            tmp = self._write_temp(target, data, mode, sync=True)
            os.replace(tmp, target)
            return True
        self._drop(target)  # the same file twice in one batch: the later bytes win
        staged = self._pending[target] = _Staged(data)
        staged.done = self._flush.submit(self._stage, staged, target, mode)
        return True

    def _write_temp(self, target: str, data: bytes, mode: int, sync: bool) -> str:
        """A new temp file next to target holding data (fsync'd when sync); its name.

        Renamed over target only once on disk, the file is either the old one or the new one, never half."""
        fd, tmp = self._temp_for(target)
        try:
            try:
                os.fchmod(fd, mode)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                if sync:
                    os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return tmp

    def _stage(self, staged: _Staged, target: str, mode: int) -> None:
        # Without syncfs(2) each temp file needs its own fsync before its rename.
        staged.tmp = self._write_temp(target, staged.data, mode, sync=_syncfs() is None)
        if len(staged.data) > READ_ONCE_BYTES:  # on disk now: 10,000 nodes' user-data would hold 250 MB
            staged.data = None

    def _drop(self, target: str) -> None:
        """Forget a write of this batch that a later write or a remove() replaces."""
        self._read_in_batch.pop(target, None)
        earlier = self._pending.pop(target, None)
        if earlier is not None:
            self._dropped.append(earlier)

    def _temp_for(self, target: str) -> tuple[int, str]:
        """A new temp file next to target, open for writing; the directories are made (0700)
        only when missing. Its name holds this process's PID, so a later command can remove
        what a killed one left (tidy), and a counter: the batch's threads need no random names."""
        directory, _, name = target.rpartition("/")
        while True:
            tmp = f"{directory}/.{name}.{os.getpid()}.{next(_TEMP_NUMBERS)}{TMP_SUFFIX}"
            try:
                return os.open(tmp, _TEMP_FLAGS, 0o600), tmp
            except FileExistsError:  # left by a dead process that had this PID
                continue
            except FileNotFoundError:
                if not os.path.isdir(self.path):
                    self.ensure()
                self._make_dirs(directory)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """All or nothing: the writes inside the block go to temp files from a pool of threads
        while the caller goes on (read() returns the new bytes at once), and only when the
        block ends without an error are they all put in place. Re-entrant: an inner batch
        joins the outer one.

        Creating a file and syncing it cost more than rendering it (bench/bench_render.py):
        the threads overlap the creation with the caller's work, and one syncfs(2) of the
        state directory's file system puts every temp file on disk before the renames (and
        one more the renames), where a file-by-file fsync cost a disk flush each. An error,
        or a process killed before the renames, leaves the old files as they were and only
        temp files, which the next command's tidy() removes.
        """
        if self._flush is not None:
            yield
            return
        from concurrent.futures import ThreadPoolExecutor

        self._flush = ThreadPoolExecutor(FLUSH_THREADS, thread_name_prefix="blackfish-flush")
        completed = False
        try:
            yield
            completed = True
        finally:  # even when the block raised: no thread may go on writing behind the caller's back
            flush, self._flush = self._flush, None
            flush.shutdown(wait=True)
            staged, self._pending = list(self._pending.items()), {}
            self._read_in_batch, self._absent_in_batch = {}, set()
            dropped, self._dropped = self._dropped, []
            _unlink_temps(dropped)
            if not completed:
                _unlink_temps(s for _, s in staged)
        self._put_in_place(staged)

    def _put_in_place(self, staged: list[tuple[str, _Staged]]) -> None:
        try:
            for _, one in staged:
                one.done.result()  # raises the first failure
            if staged and _syncfs() is not None:
                _sync_filesystem(self.path)
        except BaseException:
            _unlink_temps(s for _, s in staged)
            raise
        for target, one in staged:
            os.replace(one.tmp, target)
        if staged and _syncfs() is not None:
            _sync_filesystem(self.path)

    def _make_dirs(self, directory: str) -> None:
        # makedirs() gives intermediate directories the umask's mode; every directory under
        # the state dir is 0700.
        missing = []
        while not os.path.isdir(directory):
            missing.append(directory)
            directory = directory.rpartition("/")[0]
        for d in reversed(missing):
            with contextlib.suppress(FileExistsError):  # another of the batch's threads made it
                os.mkdir(d, 0o700)
            os.chmod(d, 0o700)

    def remove(self, rel: str | Path) -> None:
        target = f"{self.path}/{rel}"  # a str, as in read(): a render removes 2 per worker
        self._drop(target)
        if target.rpartition("/")[0] in self._absent_in_batch:
            return  # its directory was missing when the batch looked: only the batch's writes are there
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target)

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
        died (kill -9 mid-write leaves a private key in `.<file>.<pid>.<n>.tmp`), and modes
        loosened by hand or by a umask (directories 0700, private files 0600). Runs whenever
        a command takes the lock; never follows a link. An earlier version's directory per
        node is first moved to the layout of today."""
        if _flatten_node_dirs(f"{self.path}/{NODES}") and _syncfs() is not None:
            _sync_filesystem(self.path)
        for directory, dirs, files in os.walk(self.path):
            _tighten(directory, 0o700)
            for name in files:
                path = os.path.join(directory, name)  # a str: Path objects were half of a rerender's tidy
                if os.path.islink(path):
                    continue
                if name.endswith(TMP_SUFFIX) and not _writer_alive(name):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
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
        import secrets

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



@functools.cache
def _syncfs():
    """libc's syncfs(2) (Linux), or None where there is none: Python has no wrapper."""
    import ctypes  # here: most commands write no batch

    try:
        return ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None


def _sync_filesystem(path: Path) -> None:
    """Write everything of path's file system to disk (since Linux 5.8 syncfs reports write errors)."""
    import ctypes

    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _syncfs()(fd) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"syncfs {path}: {os.strerror(errno)}")
    finally:
        os.close(fd)


def _flatten_node_dirs(nodes: str) -> bool:
    """Move each `nodes/<name>/<file>` of an earlier version to `nodes/<name>.<file>`, and remove
    the directory once empty; whether anything moved. Renames only: every key and token stays
    (the nodes hold them). An earlier version writing the directory was the last to write the
    node, so its file replaces one of the same name. Links are left alone."""
    if os.path.islink(nodes) or not os.path.isdir(nodes):
        return False
    moved = False
    for entry in [e for e in os.scandir(nodes) if e.is_dir(follow_symlinks=False)]:
        for file in NODE_FILES:
            old = f"{entry.path}/{file}"
            if os.path.isfile(old) and not os.path.islink(old):
                os.replace(old, f"{nodes}/{entry.name}.{file}")
                moved = True
        with contextlib.suppress(OSError):  # not empty: a temp file tidy removes, or something of the user's
            os.rmdir(entry.path)
    return moved


def _unlink_temps(staged) -> None:
    for one in staged:
        if one.tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(one.tmp)


def _tighten(path: str, allowed: int) -> None:
    """Clear the mode bits of path that allowed does not grant (never loosens)."""
    try:
        mode = os.lstat(path).st_mode & 0o777
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
