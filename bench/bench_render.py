"""`render` against its floor (issue 17), both measured in this run, round-robin.

- the first render of 1000 nodes (PKI and user-data, from an empty state directory) and the
  rerun that changes nothing, each divided by bench/floor_render.py for 1000 nodes;
- 10,000 nodes: the first render's time per node divided by the 1000-node one (linear
  scaling), once (it takes a minute).

Each round renders into a new state directory in one process, after a warm-up render that
compiles the templates (a `blackfish render` process pays that once, about 0.1 s). Nothing
the bench writes is removed before it ends: on a file system without a journal (this
machine's ext4) each new inode is allocated past the ones freed in the last minutes
(`recently_deleted`), so removing one measurement's files just before the next charged the
next for them, and the more so the more files it creates (docs/performance.md).
Goals: first <= 1.5x, rerun <= 0.2x, per node at 10k <= 1.2x per node at 1k. The first
render is also given against floor_render.layout_floor: the same work, written in the state
directory's layout (three files and a directory per node, where the floor has one file). The
note gives the CPU seconds of the render and of the floor: on an idle disk the ratio is
about theirs, on a busy one the floor's fsync per node weighs more (docs/performance.md).
"""

from __future__ import annotations

import ipaddress
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from floor_render import floor, layout_floor  # noqa: E402
from timing import ratio_row  # noqa: E402

from blackfish import render  # noqa: E402
from blackfish.model import config  # noqa: E402
from blackfish.model.stack import Stack, plan  # noqa: E402
from blackfish.state import StateDir  # noqa: E402

COUNT, LARGE, ROUNDS = 1000, 10_000, 3
NETWORK = ipaddress.ip_network("10.240.0.0/12")


def bench_stack(count: int) -> Stack:
    hosts = NETWORK.hosts()
    lines = [f"  - ip: {next(hosts)}" + ("\n    docker-registry: true\n    lb: true" if i == 0 else "")
             for i in range(count)]
    text = f"stack: bench\nprovider: docker\nadmin-network: {NETWORK}\nnodes:\n" + "\n".join(lines) + "\n"
    return plan(config.parse(text).config)


def cpu_seconds() -> float:
    """CPU time so far, user and system, of every thread of this process and of its children
    that ended (the render's template processes, render/parallel.py)."""
    return sum(os.times()[:4])


def timed_render(stack: Stack, base: Path) -> tuple[float, float, float]:
    """Seconds of the first render into an empty state directory, of the rerun, and the first's CPU seconds."""
    state = StateDir(stack.name, Path(tempfile.mkdtemp(dir=base)))
    started, cpu = time.perf_counter(), cpu_seconds()
    rendered = render.render_stack(stack, state)
    first, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    assert len(rendered) == len(stack.nodes) and all(r.changed for r in rendered)
    started = time.perf_counter()
    again = render.render_stack(stack, state)
    rerun = time.perf_counter() - started
    assert not any(r.changed for r in again), "the rerun wrote user-data"
    return first, rerun, cpu


def timed_floor(count: int, base: Path, measure=floor) -> tuple[float, float]:
    """Seconds and CPU seconds of the floor."""
    directory = Path(tempfile.mkdtemp(dir=base))
    cpu = cpu_seconds()
    return measure(count, directory), cpu_seconds() - cpu


def run() -> list[dict]:
    stack = bench_stack(COUNT)
    floors, floor_cpus, layouts, firsts, reruns, cpus = [], [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        base = Path(tmp)
        timed_render(bench_stack(3), base)  # warm-up: compiles the templates
        for _ in range(ROUNDS):
            seconds, floor_cpu = timed_floor(COUNT, base)
            floors.append(seconds)
            floor_cpus.append(floor_cpu)
            layouts.append(timed_floor(COUNT, base, layout_floor)[0])
            first, rerun, cpu = timed_render(stack, base)
            firsts.append(first)
            reruns.append(rerun)
            cpus.append(cpu)
        large_floor = timed_floor(LARGE, base)[0]
        large_first, large_rerun, _ = timed_render(bench_stack(LARGE), base)
    floor_s = statistics.median(floors)
    per_node = statistics.median(firsts) / COUNT
    return [
        ratio_row("render", f"first render, {COUNT} nodes", [f / b for f, b in zip(firsts, floors)], 1.5,
                  f"{statistics.median(firsts):.2f} s; floor {floor_s:.2f} s; CPU {statistics.median(cpus):.2f} s, "
                  f"floor's {statistics.median(floor_cpus):.2f} s; "
                  f"{statistics.median([f / b for f, b in zip(firsts, layouts)]):.2f}x the layout floor "
                  f"({statistics.median(layouts):.2f} s: the same with 3 files and a directory per node, each fsync'd)"),
        ratio_row("render", f"rerender, {COUNT} nodes, nothing changed", [r / b for r, b in zip(reruns, floors)], 0.2,
                  f"{statistics.median(reruns) * 1000:.0f} ms"),
        ratio_row("render", f"first render, {LARGE} nodes, per node vs {COUNT}", [large_first / LARGE / per_node], 1.2,
                  f"{large_first:.1f} s ({large_first / large_floor:.2f}x its floor {large_floor:.1f} s); "
                  f"rerun {large_rerun:.2f} s", unit="x"),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
