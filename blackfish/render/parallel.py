"""Running many renders on every core the process may use.

Rendering the templates is most of a first render's own work and holds the GIL, so threads
cannot share it: `run_all()` forks children that each run a contiguous share of the jobs and
send back their results, while this process runs the first share. Fork, not spawn: a child
starts with the compiled templates and the PKI's keys in memory, where a new interpreter
would spend longer importing and compiling than a share of 1000 nodes takes.

A child only renders: it writes nothing to the state directory and leaves with os._exit()
(no atexit handlers, no buffered output flushed twice). When a child fails, for any reason,
this process runs its share itself, so an error in a template is raised here exactly as a
serial render raises it. Linux only (elsewhere fork without exec is unsafe in a process that
has loaded system frameworks, so macOS renders serially); fewer than MIN_SHARE jobs a process
also run serially: the fork costs more than it saves.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
from typing import Callable, TypeVar

T = TypeVar("T")

# Jobs per process below which a fork is not worth it: a node's templates take about 0.5 ms
# here, a fork and the pickled answer 2-5 ms.
MIN_SHARE = 64


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return 1


def run_all(jobs: list[Callable[[], T]]) -> list[T]:
    """Every job's result, in order."""
    processes = min(usable_cores(), len(jobs) // MIN_SHARE) if sys.platform.startswith("linux") else 1
    if processes < 2:
        return [job() for job in jobs]
    size = -(-len(jobs) // processes)
    shares = [jobs[i:i + size] for i in range(0, len(jobs), size)]
    children: list[tuple[int, int, list]] = []  # (pid, the pipe it answers on, its share), until collected
    try:
        for share in shares[1:]:
            children.append((*_fork(share), share))
        results = [job() for job in shares[0]]
        while children:
            pid, reader, share = children.pop(0)
            answer = _collect(pid, reader)
            results += answer if answer is not None else [job() for job in share]
        return results
    finally:  # this process's share raised (or was interrupted): the children's work is not wanted
        for pid, reader, _ in children:
            os.close(reader)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _fork(share: list[Callable[[], T]]) -> tuple[int, int]:
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        status = 1
        try:
            os.close(reader)
            with open(writer, "wb") as out:
                pickle.dump([job() for job in share], out, protocol=pickle.HIGHEST_PROTOCOL)
            status = 0
        finally:
            os._exit(status)
    os.close(writer)
    return pid, reader


def _collect(pid: int, reader: int) -> list | None:
    """The child's results, or None when it failed (it is always reaped)."""
    try:
        with open(reader, "rb") as f:
            data = f.read()
    finally:
        _, status = os.waitpid(pid, 0)
    if status != 0:
        return None
    try:
        return pickle.loads(data)
    except Exception:  # cut short: the share is run again here
        return None
