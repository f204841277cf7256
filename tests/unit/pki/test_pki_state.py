"""The state directory under the PKI: atomic writes that survive interruption, and the lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from blackfish.errors import BlackfishError
from blackfish import state as state_module
from blackfish.state import StateDir
from tests.conftest import REPO


@pytest.fixture
def state(tmp_path) -> StateDir:
    return StateDir("s", tmp_path)


def leftovers(state: StateDir) -> list[str]:
    return sorted(p.name for p in state.path.rglob("*.tmp"))


@pytest.fixture
def fill_disk(monkeypatch):
    """Call it to make every fsync and syncfs from then on fail as on a full disk."""

    def disk_full(fd_or_path):
        raise OSError(28, "No space left on device")

    def fill():
        monkeypatch.setattr(os, "fsync", disk_full)
        monkeypatch.setattr(state_module, "_sync_filesystem", disk_full)

    return fill


def test_a_write_that_fails_midway_leaves_the_old_file(state, fill_disk):
    state.write("ca-key.pem", b"old key\n")
    fill_disk()
    with pytest.raises(OSError, match="No space"):
        state.write("ca-key.pem", b"new key, never complete\n")
    assert state.read("ca-key.pem") == b"old key\n"
    assert leftovers(state) == []


def test_a_killed_writer_leaves_the_old_file(state):
    state.write("nodes/n1/key.pem", b"old key\n")
    # A process killed (SIGKILL, no cleanup) after writing the new bytes, before the rename.
    script = textwrap.dedent(f"""
        import os, sys, time
        from pathlib import Path
        from blackfish.state import StateDir
        def stall(fd):
            print("written", flush=True)
            time.sleep(60)
        os.fsync = stall
        StateDir("s", Path({str(state.path.parent)!r})).write("nodes/n1/key.pem", b"new key\\n" * 1000)
    """)
    kill_when_it_prints(script, "written")
    assert state.read("nodes/n1/key.pem") == b"old key\n"


def kill_when_it_prints(script: str, line: str) -> None:
    """Run script in a new python, SIGKILL it (no cleanup) once it prints line."""
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == line + "\n"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()


def test_an_unchanged_write_keeps_the_file_and_its_mtime(state):
    assert state.write("ca.pem", b"cert\n", mode=0o644)
    before = (state.path / "ca.pem").stat().st_mtime_ns
    assert not state.write("ca.pem", b"cert\n", mode=0o644)
    assert (state.path / "ca.pem").stat().st_mtime_ns == before


def test_nested_directories_are_0700(state):
    state.write("nodes/n1/key.pem", b"k")
    for rel in ("", "nodes", "nodes/n1"):
        assert (state.path / rel).stat().st_mode & 0o777 == 0o700, rel


def test_the_lock_is_reentrant_in_one_process_and_exclusive_across_processes(state):
    script = textwrap.dedent(f"""
        from pathlib import Path
        from blackfish.errors import BlackfishError
        from blackfish.state import StateDir
        try:
            with StateDir("s", Path({str(state.path.parent)!r})).lock(wait=False):
                print("got it")
        except BlackfishError as exc:
            print(exc)
    """)

    def other_process() -> str:
        return subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True).stdout

    with state.lock():
        with StateDir("s", state.path.parent).lock(wait=False):
            assert "another blackfish command is working on stack 's'" in other_process()
        assert "another blackfish command" in other_process()
    assert other_process() == "got it\n"


def test_the_lock_is_exclusive_across_threads(state):
    import threading

    outcome = []

    def other_thread():
        try:
            with state.lock(wait=False):
                outcome.append("got it")
        except BlackfishError:
            outcome.append("busy")

    with state.lock():
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert outcome == ["busy"]


def test_a_batch_reads_its_own_writes_and_leaves_every_file_in_place(state):
    with state.batch():
        for i in range(50):
            assert state.write(f"nodes/n{i}/key.pem", f"key {i}\n", mode=0o600)
        assert state.read("nodes/n7/key.pem") == b"key 7\n"
        assert not state.write("nodes/n7/key.pem", "key 7\n", mode=0o600)  # unchanged, even before it is on disk
        state.write("nodes/n7/key.pem", "key 7, again\n")  # the later bytes win
    assert [state.file(f"nodes/n{i}/key.pem").read_text() for i in (0, 7, 49)] == ["key 0\n", "key 7, again\n", "key 49\n"]
    assert state.file("nodes/n3/key.pem").stat().st_mode & 0o777 == 0o600
    assert leftovers(state) == []


def test_a_batch_reads_what_it_wrote_where_it_found_nothing_and_what_changed_after_it(state):
    state.write("nodes/n1/cert.pem", b"cert 1\n")
    with state.batch():
        assert state.read("nodes/n2/key.pem") is None  # no nodes/n2: the batch remembers that
        assert state.read("nodes/n1/cert.pem") == b"cert 1\n"
        state.write("nodes/n2/key.pem", b"key 2\n")
        assert state.read("nodes/n2/key.pem") == b"key 2\n" and state.read("nodes/n2/cert.pem") is None
        state.write("nodes/n1/cert.pem", b"cert 1, new\n")
        assert state.read("nodes/n1/cert.pem") == b"cert 1, new\n"
        state.write("nodes/n1/user-data", b"x" * (state_module.READ_ONCE_BYTES + 1))  # too big to keep in memory
        state.stat_as_written("nodes/n1/user-data")  # its temp file is written
        assert state.read("nodes/n1/user-data") == b"x" * (state_module.READ_ONCE_BYTES + 1)
    assert state.read("nodes/n1/cert.pem") == b"cert 1, new\n" and state.read("nodes/n2/key.pem") == b"key 2\n"
    state.file("nodes/n2/cert.pem").write_bytes(b"cert 2\n")  # between two commands
    state.file("nodes/n1/cert.pem").write_bytes(b"cert 1, by hand\n")
    with state.batch():
        assert state.read("nodes/n2/cert.pem") == b"cert 2\n" and state.read("nodes/n1/cert.pem") == b"cert 1, by hand\n"
        state.remove("nodes/n2/cert.pem")
        assert state.read("nodes/n2/cert.pem") is None


def test_a_write_that_fails_in_a_batch_fails_the_batch_and_leaves_the_old_file(state, fill_disk):
    state.write("ca-key.pem", b"old key\n")
    fill_disk()
    with pytest.raises(OSError, match="No space"):
        with state.batch():
            state.write("ca-key.pem", b"new key, never complete\n")
    assert state.read("ca-key.pem") == b"old key\n"
    assert leftovers(state) == []


def test_a_batch_is_all_or_nothing_when_one_of_its_writes_fails(state):
    state.write("ca-key.pem", b"old key\n")
    state.write("ca.pem", b"a file, not a directory\n")
    with pytest.raises(NotADirectoryError):
        with state.batch():
            state.write("ca-key.pem", b"new key\n")
            state.write("nodes/n1/key.pem", b"a new file\n")
            state.write("ca.pem/inside", b"cannot be\n")
    assert state.read("ca-key.pem") == b"old key\n"
    assert state.read("nodes/n1/key.pem") is None
    assert leftovers(state) == []


def test_a_batch_whose_block_raises_writes_nothing(state):
    state.write("ca-key.pem", b"old key\n")
    with pytest.raises(RuntimeError):
        with state.batch():
            state.write("ca-key.pem", b"new key\n")
            state.write("nodes/n1/key.pem", b"a new file\n")
            raise RuntimeError("the render failed halfway")
    assert state.read("ca-key.pem") == b"old key\n"
    assert state.read("nodes/n1/key.pem") is None
    assert leftovers(state) == []


def test_a_removed_file_stays_removed_when_the_batch_wrote_it_first(state):
    with state.batch():
        state.write("nodes/n1/client-key.pem", b"key\n")
        state.remove("nodes/n1/client-key.pem")
        assert state.read("nodes/n1/client-key.pem") is None
    assert not state.file("nodes/n1/client-key.pem").exists()
    assert leftovers(state) == []


def test_a_batch_killed_before_its_renames_leaves_the_previous_state(state):
    for i in range(5):
        state.write(f"nodes/n{i}/key.pem", f"old key {i}\n")
    # SIGKILL once every temp file is written and synced, at the first rename.
    script = textwrap.dedent(f"""
        import os, time
        from pathlib import Path
        from blackfish.state import StateDir
        def stall(*args):
            print("staged", flush=True)
            time.sleep(60)
        state = StateDir("s", Path({str(state.path.parent)!r}))
        with state.batch():
            for i in range(10):
                state.write(f"nodes/n{{i}}/key.pem", f"new key {{i}}\\n")
            os.replace = stall
    """)
    kill_when_it_prints(script, "staged")
    assert [state.read(f"nodes/n{i}/key.pem") for i in range(10)] == [f"old key {i}\n".encode() for i in range(5)] + [None] * 5
    assert len(leftovers(state)) == 10
    with state.lock():  # the next command removes what the killed one left
        pass
    assert leftovers(state) == []
