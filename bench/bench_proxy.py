"""Overhead of the docker proxy (issue 17): `blackfish STACK ps` next to `docker ps` with the
same TLS environment set (the floor), round-robin in one run.

Goals: warm (a remembered manager) <= 10 ms over docker ps, cold (probing the managers) <=
150 ms. The overhead is taken in BLOCKS runs of ROUNDS/BLOCKS rounds each, so the spread
shows the noise of this shared machine. blackfish runs from bytecode, as `pip install`
leaves it. Starts its own network lab with one TLS dockerd (root needed) and times from a
client host in it. The warm row's note also gives `python -c pass` (and with -I -S), timed in
the same rounds: the interpreter's own start, which no Python command can go below.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from timing import ratio_row  # noqa: E402

STACK = "bench"
ROUNDS, BLOCKS = 20, 4
COLD_ROUNDS, COLD_BLOCKS = 8, 4
SUBNET = "10.243.0.0/24"
MANAGER_IP, CLIENT_IP = "10.243.0.31", "10.243.0.32"

# Runs inside the client's network namespace: time the commands round-robin with bench/timing.py.
TIMER = """
import json, sys
sys.path.insert(0, {bench!r})
from timing import samples
print(json.dumps(samples({commands!r}, repeat={repeat}, env={env!r})))
"""


def _blackfish() -> list[str]:
    script = Path(sys.executable).parent / "blackfish"  # the console script a user runs
    return [str(script)] if script.exists() else [sys.executable, "-m", "blackfish"]


def _time_in(host, commands: dict[str, list[str]], env: dict[str, str], repeat: int) -> dict[str, list[float]]:
    code = TIMER.format(bench=str(HERE), commands=commands, repeat=repeat, env=env)
    done = host.run([sys.executable, "-c", code])
    if done.returncode != 0:
        raise RuntimeError(f"timing in the lab failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def _time_warm(client, state, commands: dict[str, list[str]], env: dict[str, str]) -> dict[str, list[float]]:
    """Time with a remembered manager, and make sure no call in the batch had to probe."""
    from blackfish import proxy

    client.run([*_blackfish(), STACK, "ps"], env=env, check=True)
    before = state.read(proxy.CACHE)
    times = _time_in(client, commands, env, repeat=ROUNDS)
    if state.read(proxy.CACHE) != before:
        raise RuntimeError("the remembered manager expired during the timing; the numbers would include a probe")
    return times


def run() -> list[dict]:
    from tests.support import netlab

    ok, why = netlab.available()
    if not ok or shutil.which("dockerd") is None:
        return [{"benchmark": "proxy", "case": "skipped", "value": 0, "unit": "-", "note": why or "no dockerd"}]
    from blackfish import proxy
    from tests.support.proxy_stack import node_tls, recorded_stack

    home = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    old_home = os.environ.get("BLACKFISH_HOME")
    os.environ["BLACKFISH_HOME"] = str(home)
    try:
        stack, state = recorded_stack(STACK, (MANAGER_IP,), SUBNET)
        node = stack.managers[0]
        with netlab.Lab("bfpxb", SUBNET) as lab:
            lab.add_host(node.name, node.ip).start_dockerd(**node_tls(state, node))
            client = lab.add_host("client", CLIENT_IP)
            base = {**os.environ, "BLACKFISH_HOME": str(home)}
            with_env = {**base, **proxy.docker_env(proxy.Manager(node.name, node.ip, 2376), str(state.path))}
            with _bytecode(REPO / "blackfish"):
                warm = _time_warm(client, state, {WARM: [*_blackfish(), STACK, "ps"], DOCKER: ["docker", "ps"],
                                                  **INTERPRETER}, with_env)
                cold_argv = ["sh", "-c", f'rm -f "$BLACKFISH_HOME/{STACK}/{proxy.CACHE}" && exec "$@"', "sh",
                             *_blackfish(), STACK, "ps"]
                cold = _time_in(client, {COLD: cold_argv, DOCKER: ["docker", "ps"]}, with_env, repeat=COLD_ROUNDS)
    finally:
        if old_home is None:
            os.environ.pop("BLACKFISH_HOME", None)
        else:
            os.environ["BLACKFISH_HOME"] = old_home
        shutil.rmtree(home, ignore_errors=True)
    docker_ms = statistics.median(warm[DOCKER]) * 1000
    warm_row = _overhead_row(WARM, warm, BLOCKS, 10, docker_ms)
    warm_row["note"] += "; " + ", ".join(f"{name} {statistics.median(warm[name]) * 1000:.1f} ms" for name in INTERPRETER)
    return [warm_row, _overhead_row(COLD, cold, COLD_BLOCKS, 150, docker_ms)]


WARM, COLD, DOCKER = "blackfish STACK ps, warm", "blackfish STACK ps, cold (probe)", "docker ps"
# The floor under the warm overhead: the interpreter blackfish runs on, started with nothing to do
# (with site, as the installed command starts it; and without, as no pip-installed script can).
INTERPRETER = {"python -c pass": [sys.executable, "-c", "pass"], "python -I -S -c pass": [sys.executable, "-I", "-S", "-c", "pass"]}


def _overhead_row(case: str, times: dict[str, list[float]], blocks: int, goal: float, docker_ms: float) -> dict:
    """Milliseconds over docker ps: the difference of the medians within each block of rounds."""
    size = len(times[case]) // blocks
    overheads = [(statistics.median(times[case][i * size:(i + 1) * size])
                  - statistics.median(times[DOCKER][i * size:(i + 1) * size])) * 1000 for i in range(blocks)]
    return ratio_row("proxy", case, overheads, goal, f"{statistics.median(times[case]) * 1000:.0f} ms; "
                     f"docker ps with the same TLS env {docker_ms:.0f} ms", unit="ms over docker")


@contextlib.contextmanager
def _bytecode(package: Path):
    """The package's .pyc files for the duration, as `pip install` leaves them (this machine sets
    PYTHONDONTWRITEBYTECODE, so an editable checkout otherwise recompiles every module per call)."""
    made = [d for d in (p / "__pycache__" for p in [package, *package.rglob("*")] if p.is_dir()) if not d.exists()]
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)
    try:
        yield
    finally:
        for directory in made:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    for row in run():
        print(row)
