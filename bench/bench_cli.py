"""Start-up cost of the CLI: `blackfish --help` and `blackfish validate` next to `import click`.

Target (issue 2): both under 2x the time of `python -c "import click"`, measured in one run.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from timing import PYTHON, wall_times

REPO = Path(__file__).resolve().parent.parent


def run() -> list[dict]:
    # Measure blackfish as `pip install` leaves it, with bytecode: this machine sets
    # PYTHONDONTWRITEBYTECODE, which would otherwise recompile every module on each call.
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(REPO / "blackfish")], check=True)
    # The `blackfish` console script next to this Python, as users run it (else `python -m`).
    script = Path(PYTHON).parent / "blackfish"
    blackfish = [str(script)] if script.exists() else [PYTHON, "-m", "blackfish"]
    times = wall_times({
        "import click": [PYTHON, "-c", "import click"],
        "blackfish --help": [*blackfish, "--help"],
        "blackfish validate": [*blackfish, "validate", "-f", str(REPO / "nodes.yml")],
    })
    base = times["import click"]
    rows = []
    for case, seconds in times.items():
        rows.append({"benchmark": "cli", "case": case, "value": seconds * 1000, "unit": "ms",
                     "note": f"{seconds / base:.2f}x import click"})
    return rows
