"""The docker provider against its floors (issue 17), all measured in this run, round-robin.

- `blackfish up --provider docker --parallel 3` of 3 new nodes, to a ready swarm, divided by
  bench/floor_docker.py's boot (the same engine starting 3 node containers until each
  one's dockerd answers), and by that boot plus form_swarm (plain `docker swarm init` and
  `join` on those engines until the first lists 3 ready managers): what any tool that
  brings up a swarm must do, of which the first floor leaves out the swarm;
- `up` after `halt` (the same swarm coming back), divided by floor_docker.py's restart (plain
  containers) and by its restart_swarm (stopped swarm managers until they list each other
  ready again): restarted managers answer only once they have elected a raft leader;
- `destroy` of the 3 nodes, in seconds.

The note gives where `up`'s time went, step by step (the time each step's lines came out).
Needs root and a docker engine; the node image is built offline when missing (not timed).
Goals: up <= 1.5x, up after halt <= 1.5x, destroy <= 3 s.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

import floor_docker  # noqa: E402
from timing import ratio_row  # noqa: E402

ROUNDS = 2
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


def timed(stack, *args: str) -> tuple[float, str]:
    """Seconds of `blackfish ARGS...`, and the end of each of its steps (seconds from the start)."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "blackfish", *args], cwd=stack.workdir, env=stack.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ends: dict[str, float] = {}
    for line in proc.stderr:
        words = line.split()
        if len(words) >= 2:  # `NODE  STEP  phase`: the step's lines come out when it ends
            ends.setdefault(words[1], time.perf_counter() - started)
    out = proc.stdout.read()
    if proc.wait() != 0:
        raise RuntimeError(f"blackfish {' '.join(args)} failed:\n{out}")
    steps = ", ".join(f"{step} {at:.1f}" for step, at in ends.items() if step in ("render", "boot", "ready"))
    return time.perf_counter() - started, steps


def run() -> list[dict]:
    from tests.support.cluster import ClusterStack, node_image

    image = node_image()
    ups, agains, destroys, floors, swarms, restarts, swarm_restarts, profile = [], [], [], [], [], [], [], ""
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        stack = ClusterStack(NAME, Path(tmp), NODES_YML)
        stack.remove_leftovers()
        try:
            for _ in range(ROUNDS):
                floors.append(floor_docker.boot(image))
                restarts.append(floor_docker.restart())
                swarms.append(floors[-1] + floor_docker.form_swarm())
                swarm_restarts.append(floor_docker.restart_swarm())
                floor_docker.remove()
                seconds, profile = timed(stack, "up", NAME, "--provider", "docker", "--parallel", "3")
                ups.append(seconds)
                stack.ok("halt", NAME)
                agains.append(timed(stack, "up", NAME)[0])
                started = time.perf_counter()
                stack.ok("destroy", NAME, "--yes")
                destroys.append(time.perf_counter() - started)
        finally:
            floor_docker.remove()
            stack.destroy()
            stack.remove_leftovers()
    median = statistics.median
    return [
        ratio_row("docker", "up, 3 new nodes, --parallel 3", [u / f for u, f in zip(ups, floors)], 1.5,
                  f"{median(ups):.1f} s; floor {median(floors):.1f} s; steps ended at: {profile} s"),
        ratio_row("docker", "up, 3 new nodes, vs plain docker to a swarm", [u / f for u, f in zip(ups, swarms)], 1.5,
                  f"floor {median(swarms):.1f} s: engines answering, then swarm init and 2 joins"),
        ratio_row("docker", "up after halt", [a / r for a, r in zip(agains, restarts)], 1.5,
                  f"{median(agains):.1f} s; floor {median(restarts):.1f} s"),
        ratio_row("docker", "up after halt, vs plain docker swarm managers", [a / r for a, r in zip(agains, swarm_restarts)],
                  1.5, f"floor {median(swarm_restarts):.1f} s: stopped managers back to a raft leader and 3 ready nodes"),
        ratio_row("docker", "destroy, 3 nodes", destroys, 3, f"node image {image}", unit="s"),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
