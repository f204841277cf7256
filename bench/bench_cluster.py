"""Seconds from `blackfish up --provider docker` to a ready 3-node swarm, node image prebuilt.

Target (issue 7): under 60 s. `up` returns only when every engine answers over TLS and the
swarm has its planned managers and workers, so its wall time is the measure. Also: the same
with the default --parallel 1, and `up` after `halt` (the same swarm coming back).
Needs root and a docker engine (it builds the node image offline when missing, not timed).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

NAME = "bfbench"
NODES_YML = f"""\
stack: {NAME}
provider: docker
admin-network: 10.244.200.0/24
nodes:
  - ip: 10.244.200.11
  - ip: 10.244.200.12
  - ip: 10.244.200.13
"""


def _timed(stack, *args: str) -> float:
    started = time.perf_counter()
    stack.ok(*args)
    return time.perf_counter() - started


def run() -> list[dict]:
    from tests.support.cluster import ClusterStack, node_image

    image = node_image()
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        stack = ClusterStack(NAME, Path(tmp), NODES_YML)
        stack.remove_leftovers()
        try:
            serial = _timed(stack, "up", NAME, "--provider", "docker")
            stack.ok("destroy", NAME, "--yes")
            parallel = _timed(stack, "up", NAME, "--provider", "docker", "--parallel", "3")
            ready = len(stack.swarm_nodes())
            stack.ok("halt", NAME)
            again = _timed(stack, "up", NAME)
        finally:
            stack.destroy()
            stack.remove_leftovers()
    note = f"{ready} Ready swarm nodes; node image {image} prebuilt"
    return [
        {"benchmark": "cluster", "case": "up, 3 new nodes, --parallel 3", "value": parallel, "unit": "s",
         "note": f"target < 60 s; {note}"},
        {"benchmark": "cluster", "case": "up, 3 new nodes, --parallel 1", "value": serial, "unit": "s", "note": note},
        {"benchmark": "cluster", "case": "up after halt (same swarm)", "value": again, "unit": "s"},
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
