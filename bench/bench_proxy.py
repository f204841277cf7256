"""Overhead of the docker proxy: `blackfish STACK ps` next to `docker ps` with the env set.

Target (issue 6): under 50 ms per call with a warm (remembered) manager, measured in one run.
Starts its own network lab with one TLS dockerd (root needed) and times from a client host in it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

STACK = "bench"
SUBNET = "10.243.0.0/24"
MANAGER_IP, CLIENT_IP = "10.243.0.31", "10.243.0.32"

# Runs inside the client's network namespace: time the commands round-robin with bench/timing.py.
TIMER = """
import json, sys
sys.path.insert(0, {bench!r})
from timing import wall_times
print(json.dumps(wall_times({commands!r}, repeat={repeat}, env={env!r})))
"""


def _blackfish() -> list[str]:
    script = Path(sys.executable).parent / "blackfish"  # the console script a user runs
    return [str(script)] if script.exists() else [sys.executable, "-m", "blackfish"]


def _time_in(host, commands: dict[str, list[str]], env: dict[str, str], repeat: int) -> dict[str, float]:
    code = TIMER.format(bench=str(HERE), commands=commands, repeat=repeat, env=env)
    done = host.run([sys.executable, "-c", code])
    if done.returncode != 0:
        raise RuntimeError(f"timing in the lab failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def _time_warm(client, state, commands: dict[str, list[str]], env: dict[str, str]) -> dict[str, float]:
    """Time with a remembered manager, and make sure no call in the batch had to probe."""
    from blackfish import proxy

    client.run([*_blackfish(), STACK, "ps"], env=env, check=True)
    before = state.read(proxy.CACHE)
    times = _time_in(client, commands, env, repeat=15)
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
            warm = _time_warm(client, state, _pair("warm", ""), with_env)
            with _bytecode(REPO / "blackfish"):
                compiled = _time_warm(client, state, _pair("warm, bytecode compiled", ", 2nd run"), with_env)
            cold_argv = ["sh", "-c", f'rm -f "$BLACKFISH_HOME/{STACK}/{proxy.CACHE}" && exec "$@"', "sh", *_blackfish(), STACK, "ps"]
            cold = _time_in(client, {"blackfish STACK ps (probe)": cold_argv}, base, repeat=5)
    finally:
        if old_home is None:
            os.environ.pop("BLACKFISH_HOME", None)
        else:
            os.environ["BLACKFISH_HOME"] = old_home
        shutil.rmtree(home, ignore_errors=True)
    rows = []
    for times, suffix in ((warm, ""), (compiled, ", 2nd run")):
        case = f"docker ps (env set{suffix})"
        docker = times.pop(case)
        rows.append({"benchmark": "proxy", "case": case, "value": docker * 1000, "unit": "ms"})
        rows += _overheads(times, docker)
    return rows + _overheads(cold, docker)


def _pair(label: str, suffix: str) -> dict[str, list[str]]:
    """The proxied call and the plain one, timed round-robin against the same engine."""
    return {f"blackfish STACK ps ({label})": [*_blackfish(), STACK, "ps"], f"docker ps (env set{suffix})": ["docker", "ps"]}


def _overheads(times: dict[str, float], docker: float) -> list[dict]:
    return [{"benchmark": "proxy", "case": case, "value": seconds * 1000, "unit": "ms",
             "note": f"overhead {(seconds - docker) * 1000:+.0f} ms vs docker ps"} for case, seconds in times.items()]


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
