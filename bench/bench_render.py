"""`blackfish render` for 3, 100 and 1000 nodes (issue 4): wall time from an empty state
directory to every node's user-data on disk, and the share of it spent issuing keys
(ensure_pki) versus running the templates (render_user_data), measured in the same run.

What is neither is the rest of render_stack: reading the PKI back, resolving the secrets,
and one fsync'd atomic write per user-data file. The first case also pays for compiling the
templates (about 0.3 s here), as every `blackfish render` process does once.
"""

from __future__ import annotations

import ipaddress
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from blackfish import pki, render

from blackfish.model import config
from blackfish.model.stack import Stack, plan
from blackfish.state import StateDir

COUNTS = (3, 100, 1000)
NETWORK = ipaddress.ip_network("10.242.0.0/16")


def bench_stack(count: int) -> Stack:
    hosts = NETWORK.hosts()
    lines = [f"  - ip: {next(hosts)}" + ("\n    docker-registry: true\n    lb: true" if i == 0 else "")
             for i in range(count)]
    text = f"stack: bench\nprovider: docker\nadmin-network: {NETWORK}\nnodes:\n" + "\n".join(lines) + "\n"
    return plan(config.parse(text).config)


@contextmanager
def timed(module, name: str, totals: dict[str, float]):
    """Add the time spent in module.name to totals[name] while the block runs."""
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[name] = totals.get(name, 0.0) + time.perf_counter() - started

    setattr(module, name, wrapper)
    try:
        yield
    finally:
        setattr(module, name, original)


def run() -> list[dict]:
    rows = []
    for count in COUNTS:
        stack = bench_stack(count)
        with tempfile.TemporaryDirectory() as home:
            state = StateDir(stack.name, Path(home))
            totals: dict[str, float] = {}
            with timed(pki, "ensure_pki", totals), timed(render, "render_user_data", totals):
                started = time.perf_counter()
                rendered = render.render_stack(stack, state)
                wall = time.perf_counter() - started
            assert len(rendered) == count
            size = sum(r.path.stat().st_size for r in rendered)
        keys, templates = totals["ensure_pki"], totals["render_user_data"]
        rows.append({"benchmark": "render", "case": f"{count} nodes", "value": wall, "unit": "s",
                     "note": f"keys {keys / wall:.0%}, templates {templates / wall:.0%} "
                             f"({templates / count * 1000:.1f} ms/node), rest {(wall - keys - templates) / wall:.0%}; "
                             f"{size / count / 1024:.0f} KiB/node"})
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
