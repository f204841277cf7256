"""`blackfish validate` on hostile files (issue 16, findings 5 and 12) next to the example nodes.yml.

Target: a 540-byte alias bomb and a 50 MB file are refused (exit 2) in about the time a valid
file takes: well under a second, where they took minutes before the bounds.
"""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path

from timing import PYTHON, wall_times

REPO = Path(__file__).resolve().parent.parent
ALIAS_BOMB = "stack: demo\nnodes:\n  - ip: 192.168.56.10\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi")).replace("*a", '"lol"', 9)


def run() -> list[dict]:
    script = Path(PYTHON).parent / "blackfish"
    blackfish = shlex.join([str(script)] if script.exists() else [PYTHON, "-m", "blackfish"])
    with tempfile.TemporaryDirectory() as tmp:
        bomb, big = Path(tmp, "bomb.yml"), Path(tmp, "big.yml")
        bomb.write_text(ALIAS_BOMB)
        with big.open("w") as f:
            f.write(ALIAS_BOMB)
            f.truncate(50 * 1024 * 1024)
        # Refusals exit 2: the wrapper turns exactly that into success, anything else fails the bench.
        refused = lambda path: ["sh", "-c", f"{blackfish} validate -f {shlex.quote(str(path))}; test $? -eq 2"]
        times = wall_times({
            "validate nodes.yml": [*shlex.split(blackfish), "validate", "-f", str(REPO / "nodes.yml")],
            "validate alias bomb": refused(bomb),
            "validate 50 MB file": refused(big),
        }, repeat=5)
    base = times["validate nodes.yml"]
    return [{"benchmark": "validate", "case": case, "value": seconds * 1000, "unit": "ms",
             "note": f"{seconds / base:.2f}x a valid nodes.yml"} for case, seconds in times.items()]
