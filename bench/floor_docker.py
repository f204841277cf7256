"""The floors of the docker provider (issue 17): what the same engine needs, with the plain
docker CLI and nothing else, to start N node containers and get their dockerd answering, and
to make those engines one swarm of N managers.

Each node is the node image run as a provider node runs (systemd as PID 1, privileged or,
where the host refuses that, its explicit equivalent, its own cgroup namespace on a cgroup v2 host, tmpfs /run,
a volume for /var/lib/docker, a static IP on a bridge network made beforehand); its engine starts on the first request to its socket (the image
enables docker.socket). `boot` times creating and starting them all at once until
`docker exec NODE docker version` answers in each; `restart` times the same from stopped
containers, as `up` after `halt` finds them. `form_swarm` times `docker swarm init` on the
first and `docker swarm join` (as managers, at once) on the others until the first lists
every node ready; `restart_swarm` times starting those stopped swarm managers until the same
holds again: their engines answer only once the managers have elected a raft leader, which
swarmkit's election timeout (10 ticks of 1 s, randomised up to twice that) bounds from below.

    python bench/floor_docker.py [IMAGE]     # boot, restart, form_swarm, restart_swarm, remove 3 nodes
"""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

PREFIX = "bffloor"
SUBNET, IPS = "10.244.201.0/24", ("10.244.201.11", "10.244.201.12", "10.244.201.13")
ANSWER_TIMEOUT = 120.0


def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def _name(i: int) -> str:
    return f"{PREFIX}-{i + 1}"


def _wait_for_engine(name: str) -> None:
    deadline = time.monotonic() + ANSWER_TIMEOUT
    while _docker("exec", name, "docker", "version", "--format", "{{.Server.Version}}", check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name}: its dockerd did not answer within {ANSWER_TIMEOUT:g} s")
        time.sleep(0.1)


def _run(i: int, image: str) -> None:
    from blackfish.providers.docker import node as dn

    name = _name(i)
    cgroup_v2 = _docker("info", "--format", "{{.CgroupVersion}}").stdout.strip() == "2"
    common = ["run", "-d", "--name", name, "--hostname", name, *(["--cgroupns", "private"] if cgroup_v2 else []),
              "--tmpfs", "/run:rw,nosuid,nodev,mode=755", "--tmpfs", "/run/lock:rw,nosuid,nodev,noexec",
              "-v", f"{name}-docker:/var/lib/docker", "--network", PREFIX, "--ip", IPS[i],
              "--stop-signal", "SIGRTMIN+3", "-e", "container=docker", "--entrypoint", "/bin/sh"]
    done = _docker(*common, "--privileged", image, "-c", dn.BOOT, check=False)
    if done.returncode != 0 and "unable to apply caps" in done.stderr:
        # As the provider does where the host refuses --privileged: the explicit equivalent.
        _docker("rm", "-f", name, check=False)
        unprivileged = ["--cap-add", "ALL", "--security-opt", "seccomp=unconfined", "--security-opt",
                        "apparmor=unconfined", "--device-cgroup-rule", "a *:* rwm"]
        unprivileged += [f"--cap-drop={cap}" for cap in dn.missing_capabilities(dn.host_capabilities())]
        unprivileged += [] if cgroup_v2 else ["-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw"]
        done = _docker(*common, *unprivileged, image, "-c", dn.BOOT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{name}: docker run failed: {done.stderr.strip()}")
    _wait_for_engine(name)


def _start(i: int) -> None:
    _docker("start", _name(i))
    _wait_for_engine(_name(i))


def _all(action, count: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(count) as pool:
        list(pool.map(action, range(count)))
    return time.perf_counter() - started


def boot(image: str, count: int = 3) -> float:
    """Seconds from nothing (but the network) to `count` node engines answering."""
    remove(count)
    _docker("network", "create", "--subnet", SUBNET, PREFIX)
    return _all(lambda i: _run(i, image), count)


def restart(count: int = 3) -> float:
    """Seconds from `count` stopped nodes (stopped here, untimed) to their engines answering."""
    _docker("stop", *(_name(i) for i in range(count)))
    return _all(_start, count)


def form_swarm(count: int = 3) -> float:
    """Seconds from `count` running engines (boot's) to one swarm of `count` ready managers."""
    started = time.perf_counter()
    _docker("exec", _name(0), "docker", "swarm", "init", "--advertise-addr", IPS[0])
    token = _docker("exec", _name(0), "docker", "swarm", "join-token", "-q", "manager").stdout.strip()

    def join(i: int) -> None:
        if i:
            _docker("exec", _name(i), "docker", "swarm", "join", "--token", token, "--advertise-addr", IPS[i], f"{IPS[0]}:2377")

    _all(join, count)
    _wait_for_swarm(count)
    return time.perf_counter() - started


def restart_swarm(count: int = 3) -> float:
    """Seconds from `count` stopped swarm managers (form_swarm's, stopped here, untimed) to their
    engines answering and the first listing every node ready again."""
    _docker("stop", *(_name(i) for i in range(count)))
    started = time.perf_counter()
    _all(_start, count)
    _wait_for_swarm(count)
    return time.perf_counter() - started


def _wait_for_swarm(count: int) -> None:
    deadline = time.monotonic() + ANSWER_TIMEOUT
    while True:
        listed = _docker("exec", _name(0), "docker", "node", "ls", "--format", "{{.Status}} {{.ManagerStatus}}", check=False)
        ready = [line for line in listed.stdout.splitlines() if line.split()[:1] == ["Ready"] and len(line.split()) == 2]
        if listed.returncode == 0 and len(ready) == count:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the floor's swarm did not list {count} ready managers within {ANSWER_TIMEOUT:g} s")
        time.sleep(0.1)


def remove(count: int = 3) -> None:
    _docker("rm", "-f", "-v", *(_name(i) for i in range(count)), check=False)
    _docker("volume", "rm", "-f", *(f"{_name(i)}-docker" for i in range(count)), check=False)
    _docker("network", "rm", PREFIX, check=False)


if __name__ == "__main__":
    from blackfish.providers.docker.image import DEFAULT_IMAGE

    node_image = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_IMAGE
    try:
        print(f"boot {boot(node_image):.2f} s, restart {restart():.2f} s, form_swarm {form_swarm():.2f} s, "
              f"restart_swarm {restart_swarm():.2f} s")
    finally:
        remove()
