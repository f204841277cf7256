"""Start-up cost of the CLI (issue 17): `blackfish --help` and `blackfish validate` next to
`python -c "import click"` (the floor), round-robin in one run.

Goals: --help <= 1.2x, validate <= 1.3x. Ratios are taken in BLOCKS runs of ROUNDS/BLOCKS
rounds each, so the spread shows the noise of this shared machine.
"""

from __future__ import annotations

import statistics

from timing import REPO, block_ratios, installed_python, ratio_row, samples

ROUNDS, BLOCKS = 30, 5


def run() -> list[dict]:
    # blackfish as a user installs it, and click from the same install.
    python = installed_python()
    blackfish = [str(python.parent / "blackfish")]
    taken = samples({
        "import click": [str(python), "-c", "import click"],
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
