"""Start-up cost of the CLI (issue 17): `blackfish --help` and `blackfish validate` next to
`python -c "import click"` (the floor), round-robin in one run.

Goals: --help <= 1.2x, validate <= 1.3x. Ratios are taken in BLOCKS runs of ROUNDS/BLOCKS
rounds each, so the spread shows the noise of this shared machine.
"""

from __future__ import annotations

import statistics
import subprocess
from pathlib import Path

from timing import PYTHON, block_ratios, ratio_row, samples

REPO = Path(__file__).resolve().parent.parent
ROUNDS, BLOCKS = 30, 5


def run() -> list[dict]:
    # Measure blackfish as `pip install` leaves it, with bytecode: this machine sets
    # PYTHONDONTWRITEBYTECODE, which would otherwise recompile every module on each call.
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(REPO / "blackfish")], check=True)
    # The `blackfish` console script next to this Python, as users run it (else `python -m`).
    script = Path(PYTHON).parent / "blackfish"
    blackfish = [str(script)] if script.exists() else [PYTHON, "-m", "blackfish"]
    taken = samples({
        "import click": [PYTHON, "-c", "import click"],
        "blackfish --help": [*blackfish, "--help"],
        "blackfish validate": [*blackfish, "validate", "-f", str(REPO / "nodes.yml")],
    }, repeat=ROUNDS)
    floor_ms = statistics.median(taken["import click"]) * 1000
    return [ratio_row("cli", case, block_ratios(taken, case, "import click", BLOCKS), goal,
                      f"{statistics.median(taken[case]) * 1000:.0f} ms; import click {floor_ms:.0f} ms", unit="x import click")
            for case, goal in (("blackfish --help", 1.2), ("blackfish validate", 1.3))]


if __name__ == "__main__":
    for row in run():
        print(row)
