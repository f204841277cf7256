"""`blackfish STACK ...`, `env` and `context` against two real TLS dockerds started with the stack's certs.

The managers and a client are hosts of a network lab (10.243.0.0/24); every blackfish call runs
inside the client, as a user's would. pxt-02 is a swarm manager, pxt-01 a plain engine until the
failover test joins it.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from blackfish import proxy
from tests.conftest import REPO, needs, needs_tool
from tests.support import netlab
from tests.support.images import busybox_image
from tests.support.proxy_stack import node_tls, recorded_stack

pytestmark = pytest.mark.integration

STACK = "pxt"
SUBNET = "10.243.0.0/24"
IPS = ("10.243.0.11", "10.243.0.12")
CLIENT_IP = "10.243.0.2"
BIN = str(Path(sys.executable).parent)  # where the `blackfish` console script is


@dataclass
class Cluster:
    stack: object
    state: object
    home: Path
    hosts: dict
    client: netlab.Host
    image: str

    def engine(self, name: str) -> netlab.Dockerd:
        return self.hosts[name].dockerd

    def env(self, **extra: str) -> dict[str, str]:
        return {"BLACKFISH_HOME": str(self.home), "PATH": f"{BIN}:{os.environ['PATH']}", **extra}

    def blackfish(self, *args: str, input: str | None = None, env: dict | None = None):
        return self.client.run([sys.executable, "-m", "blackfish", *args], env=self.env(**(env or {})),
                               input=input, cwd=REPO, timeout=120)

    def shell(self, argv: list[str], env: dict | None = None):
        return self.client.run(argv, env=self.env(**(env or {})), cwd=REPO, timeout=120)

    def forget_choice(self) -> None:
        self.state.remove("proxy-cache")

    def serving_node(self) -> str:
        """Which node's engine a proxied call reaches: each engine holds a volume named after its
        node (not `docker info`, which hangs on a manager whose swarm lost quorum)."""
        done = self.blackfish(STACK, "volume", "ls", "--quiet")
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    ok, why = netlab.available()
    needs(ok, why)
    needs_tool("dockerd", "docker.io")
    home = tmp_path_factory.mktemp("proxy") / "home"
    with pytest.MonkeyPatch.context() as mp, netlab.Lab("bfpx", SUBNET) as lab:
        mp.setenv("BLACKFISH_HOME", str(home))
        stack, state = recorded_stack(STACK, IPS, SUBNET)
        names = {node.fqdn: node.ip for node in stack.nodes}
        for node in stack.nodes:
            host = lab.add_host(node.name, node.ip, hosts=names)
            engine = host.start_dockerd(**node_tls(state, node))
            engine.cli("volume", "create", node.name, check=True)
            image = busybox_image(docker=engine.cli_argv)
        swarm = lab.hosts["pxt-02"].dockerd.cli("swarm", "init", "--advertise-addr", IPS[1])
        assert swarm.returncode == 0, swarm.stderr
        yield Cluster(stack, state, home, lab.hosts, lab.add_host("client", CLIENT_IP, hosts=names), image)


def test_version_prints_the_server_version(cluster):
    expected = cluster.engine("pxt-02").cli("version", "--format", "{{.Server.Version}}").stdout.strip()
    done = cluster.blackfish(STACK, "version")
    assert done.returncode == 0, done.stderr
    assert "Server:" in done.stdout and expected in done.stdout.split("Server:", 1)[1]


def test_an_active_swarm_manager_is_preferred_to_the_first_engine(cluster):
    cluster.forget_choice()
    assert cluster.serving_node() == "pxt-02"  # pxt-01 comes first in the stack but is no swarm manager


def test_the_exit_code_is_the_containers(cluster):
    done = cluster.blackfish(STACK, "run", "--rm", cluster.image, "sh", "-c", "exit 7")
    assert done.returncode == 7, done.stderr


@pytest.mark.parametrize("path", ["remembered", "probing"])
def test_arguments_reach_docker_untouched(cluster, path):
    if path == "probing":  # no remembered manager, through the command-line parser (--debug)
        cluster.forget_choice()
    prefix = ["--debug"] if path == "probing" else []
    args = ["--rm", "a b", "--", "$HOME", "-it", "'quoted'", "--help"]
    done = cluster.blackfish(*prefix, STACK, "run", "--rm", cluster.image, "sh", "-c", 'printf "%s|" "$@"', "sh", *args)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "".join(f"{a}|" for a in args)


def test_stdin_is_piped_through_run_i(cluster):
    done = cluster.blackfish(STACK, "run", "--rm", "-i", cluster.image, "tr", "a-z", "A-Z", input="hello from stdin\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "HELLO FROM STDIN\n"


def _read_until(fd: int, marker: bytes, timeout: float = 30) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise AssertionError(f"no {marker!r} on the terminal within {timeout} s; it showed {seen!r}")
        try:
            seen += os.read(fd, 4096)
        except OSError:  # EIO: the other side of the pty is gone
            raise AssertionError(f"the terminal closed before {marker!r}; it showed {seen!r}") from None
    return seen


def test_an_interactive_shell_works_in_a_real_terminal(cluster):
    master, slave = pty.openpty()
    argv = [sys.executable, "-m", "blackfish", STACK, "run", "--rm", "-it", cluster.image, "sh"]
    proc = cluster.client.popen(argv, stdin=slave, stdout=slave, stderr=slave, env=cluster.env(), cwd=REPO,
                                start_new_session=True)
    os.close(slave)
    try:
        _read_until(master, b"# ")  # busybox sh's root prompt
        os.write(master, b"echo answer-$((6 * 7)); tty\r")
        shown = _read_until(master, b"/dev/pts/")
        assert b"answer-42" in shown
        os.write(master, b"exit 5\r")
        assert proc.wait(timeout=30) == 5
    finally:
        _kill_group(proc)
        proc.wait()
        os.close(master)


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the call's whole session (started with start_new_session): were docker a child
    rather than exec'd, killing the first process would leave it running."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_a_signal_to_the_call_reaches_the_container(cluster):
    # blackfish execs docker, so the process the user started *is* the docker CLI: Ctrl-C
    # (SIGINT) goes to it, and it passes the signal on to the container (--sig-proxy, no tty).
    script = "trap 'echo got-INT; exit 42' INT; echo ready; while :; do sleep 1; done"
    argv = [sys.executable, "-m", "blackfish", STACK, "run", "--rm", "-i", cluster.image, "sh", "-c", script]
    proc = cluster.client.popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=cluster.env(), cwd=REPO, start_new_session=True)
    try:
        _read_until(proc.stdout.fileno(), b"ready\n")
        assert Path(f"/proc/{proc.pid}/comm").read_text().strip() == "docker"  # exec'd, not a child
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 42, err
        assert b"got-INT" in out
    finally:
        _kill_group(proc)  # else a docker child (were it not exec'd) would hold the pipes open
        if proc.returncode is None:
            proc.communicate()


def test_a_warm_call_neither_probes_nor_loads_click(cluster):
    assert cluster.blackfish(STACK, "ps").returncode == 0  # chooses and remembers a manager
    done = cluster.client.run([sys.executable, "-X", "importtime", "-m", "blackfish", STACK, "ps"],
                              env=cluster.env(), cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "blackfish.proxy" in loaded
    assert not {"click", "docker", "requests", "ssl", "yaml", "rich", "blackfish.model.stack"} & loaded


@pytest.mark.parametrize("shell", ["bash", "fish"])
def test_env_makes_the_plain_docker_cli_reach_the_stack(cluster, shell):
    needs_tool(shell)
    apply = f'eval "$(blackfish env {STACK})"' if shell == "bash" else f"blackfish env {STACK} --shell fish | source"
    # The user's own DOCKER_HOST gives way; DOCKER_CONTEXT is cleared (older docker CLIs let it win).
    user = {"DOCKER_CONTEXT": "laptop", "DOCKER_HOST": "unix:///nowhere.sock"}
    done = cluster.shell([shell, "-c", f"{apply}; docker volume ls --quiet"], env=user)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("pxt-0")
    unset = f'eval "$(blackfish env {STACK})"; eval "$(blackfish env --unset)"; echo "[$DOCKER_HOST]"'
    if shell == "bash":
        assert cluster.shell(["bash", "-c", unset], env=user).stdout == "[]\n"


def test_context_makes_docker_context_work(cluster, tmp_path):
    config = {"DOCKER_CONFIG": str(tmp_path / "docker-config")}
    created = cluster.blackfish("context", STACK, env=config)
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith(f"Created docker context blackfish-{STACK}: tcp://")
    done = cluster.shell(["docker", "--context", f"blackfish-{STACK}", "volume", "ls", "--quiet"], env=config)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("pxt-0")
    assert cluster.blackfish("context", STACK, env=config).stdout.startswith(f"Updated docker context blackfish-{STACK}")


def _info_hangs(engine: netlab.Dockerd) -> bool:
    try:
        engine.cli("info", timeout=3)
    except subprocess.TimeoutExpired:
        return True
    return False


def test_when_the_remembered_manager_stops_the_next_call_uses_the_other(cluster):
    token = cluster.engine("pxt-02").cli("swarm", "join-token", "-q", "manager").stdout.strip()
    joined = cluster.engine("pxt-01").cli("swarm", "join", "--token", token, f"{IPS[1]}:2377")
    assert joined.returncode == 0, joined.stderr
    cluster.forget_choice()
    first = cluster.serving_node()
    other = next(name for name in cluster.hosts if name.startswith("pxt-") and name != first)
    host = cluster.hosts[first]
    host.stop_dockerd()
    try:
        # Remembered afresh (stopping dockerd may take a while): this call takes the warm path
        # (blackfish.entry), whose liveness check must catch the stopped engine before the exec.
        node = next(n for n in cluster.stack.nodes if n.name == first)
        proxy.remember(cluster.state, proxy.Manager(first, node.ip, 2376))
        done = cluster.blackfish(STACK, "run", "--rm", cluster.image, "sh", "-c", "exit 3")
        assert done.returncode == 3, done.stderr
        assert cluster.state.read(proxy.CACHE).decode().split()[1] == other
        assert cluster.serving_node() == other

        # Two managers less one is a swarm without quorum: soon the survivor's /info hangs, yet
        # it still runs containers, and the proxy still uses it (with a warning).
        deadline = time.monotonic() + 60
        while not _info_hangs(cluster.engine(other)):
            assert time.monotonic() < deadline, "the surviving manager kept answering /info"
            time.sleep(1)
        cluster.forget_choice()
        done = cluster.blackfish(STACK, "run", "--rm", cluster.image, "sh", "-c", "exit 4")
        assert done.returncode == 4, done.stderr
        assert f"using {other} (the engine answers, its swarm state does not within 3 s (no quorum?))" in done.stderr
    finally:
        host.start_dockerd(**node_tls(cluster.state, next(n for n in cluster.stack.nodes if n.name == first)))
