"""Polling for what a cluster does in its own time (an election, a node coming back)."""

from __future__ import annotations

import time


def wait_for(predicate, timeout: float, what: str, interval: float = 1.0):
    """predicate()'s first truthy value; an AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(interval)
