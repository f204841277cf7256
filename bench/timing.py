"""Small helpers for the benchmarks: wall time of commands, interleaved to share the noise."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def wall_times(commands: dict[str, list[str]], repeat: int = 15, env=None, cwd=None) -> dict[str, float]:
    """Median wall seconds of each command, run round-robin `repeat` times (after one warm-up)."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(repeat + 1):
        for name, argv in commands.items():
            started = time.perf_counter()
            proc = subprocess.run(argv, capture_output=True, env=env, cwd=cwd)
            elapsed = time.perf_counter() - started
            if proc.returncode != 0:
                raise RuntimeError(f"{name}: {' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
            if round_:
                samples[name].append(elapsed)
    return {name: statistics.median(values) for name, values in samples.items()}


PYTHON = sys.executable
