"""Run every benchmark in bench/ (or those named) and print one table.

    python bench/run.py            # all
    python bench/run.py cli pki    # bench_cli.py and bench_pki.py only
    python bench/run.py --json     # machine-readable

Each bench/bench_<name>.py exposes run() -> list of {benchmark, case, value, unit, goal?,
met?, spread?, note?}. Every value with a goal is a ratio to (or a difference from) a floor
measured in the same run, round-robin: this machine is shared and noisy. `spread` is the
lowest and highest of the repeated measurements whose median is the value. The last run is
recorded in docs/performance.md.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    as_json = "--json" in argv
    names = [a for a in argv if not a.startswith("-")]
    files = sorted(HERE.glob("bench_*.py"))
    if names:
        files = [f for f in files if f.stem.removeprefix("bench_") in names]
    rows, failed = [], 0
    for path in files:
        started = time.perf_counter()
        try:
            results = _load(path).run()
        except Exception as exc:  # one broken benchmark must not hide the others
            failed += 1
            results = [{"benchmark": path.stem.removeprefix("bench_"), "case": "FAILED", "value": "",
                        "unit": "", "note": f"{type(exc).__name__}: {exc}"}]
        rows.extend(results)
        print(f"# {path.stem}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    if as_json:
        json.dump(rows, sys.stdout, indent=2)
        print()
    else:
        _print_table(rows)
    return 1 if failed else 0


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _print_table(rows: list[dict]) -> None:
    columns = ["benchmark", "case", "value", "unit", "goal", "met", "spread", "note"]
    cells = [[_fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
