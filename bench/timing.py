"""Small helpers for the benchmarks: wall time of commands, interleaved to share the noise,
and ratios to a floor reported with their spread."""

from __future__ import annotations

import atexit
import functools
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable
REPO = Path(__file__).resolve().parent.parent


@functools.cache
def installed_python() -> Path:
    """The Python of a fresh venv holding blackfish and its runtime dependencies only, as
    `pipx install` or `pip install .` leaves it (bytecode written, no test tools): the
    development venv's extras change what blackfish's libraries import (with
    typing_extensions present, msgspec imports it and `inspect`, 15 ms). Removed at exit."""
    venv = Path(tempfile.mkdtemp(prefix="blackfish-bench-venv-"))
    atexit.register(shutil.rmtree, venv, ignore_errors=True)
    subprocess.run([PYTHON, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(REPO)],
                   check=True, capture_output=True)
    # Bytecode for every module, as pip leaves it where PYTHONDONTWRITEBYTECODE is unset (it is
    # set on this machine, and each call would otherwise compile what it imports).
    subprocess.run([str(python), "-m", "compileall", "-q", str(venv / "lib")], check=True, capture_output=True)
    return python


def samples(commands: dict[str, list[str]], repeat: int = 15, env=None, cwd=None) -> dict[str, list[float]]:
    """Wall seconds of each command, run round-robin `repeat` times (after one warm-up round)."""
    taken: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(repeat + 1):
        for name, argv in commands.items():
            started = time.perf_counter()
            proc = subprocess.run(argv, capture_output=True, env=env, cwd=cwd)
            elapsed = time.perf_counter() - started
            if proc.returncode != 0:
                raise RuntimeError(f"{name}: {' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
            if round_:
                taken[name].append(elapsed)
    return taken


def wall_times(commands: dict[str, list[str]], repeat: int = 15, env=None, cwd=None) -> dict[str, float]:
    """Median wall seconds of each command, run round-robin `repeat` times (after one warm-up)."""
    return {name: statistics.median(values) for name, values in samples(commands, repeat, env, cwd).items()}


def block_ratios(taken: dict[str, list[float]], name: str, floor: str, blocks: int) -> list[float]:
    """median(name) / median(floor) within each of `blocks` consecutive runs of rounds."""
    size = len(taken[name]) // blocks
    return [statistics.median(taken[name][i * size:(i + 1) * size]) / statistics.median(taken[floor][i * size:(i + 1) * size])
            for i in range(blocks)]


def ratio_row(benchmark: str, case: str, ratios: list[float], goal: float, note: str = "", unit: str = "x floor") -> dict:
    """One row of bench/run.py's table: the median ratio, its goal and its spread."""
    value = statistics.median(ratios)
    return {"benchmark": benchmark, "case": case, "value": value, "unit": unit, "goal": f"<= {goal:g}",
            "met": value <= goal, "spread": f"{min(ratios):.2f}-{max(ratios):.2f}" if len(ratios) > 1 else "one run",
            "note": note}
