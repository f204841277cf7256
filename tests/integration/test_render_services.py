"""The rendered service configurations are read by the real programs: Debian's distribution
registry serves the rendered config on loopback behind the rendered TLS front (real haproxy),
which lets every certificate of the stack pull and only the clients CA's push; haproxy accepts
the edge's configuration."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import needs_tool
from tests.support.rendered import files, render_yaml, user_data

pytestmark = pytest.mark.integration

STACK = """
    stack: reg
    provider: docker
    admin-network: 10.242.0.0/24
    nodes:
      - ip: 10.242.0.41
        docker-registry: true
        lb: true
        roles: [consul-server, swarm-manager]
      - ip: 10.242.0.42
        roles: []
"""
NODE_TLS = "/etc/docker/tls"
FRONT = "/etc/blackfish/registry-front/"
# Where the registry's container sees its storage (the unit's volume).
CONTAINER_DATA = "/var/lib/registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port}: {log.read_text()}")


@pytest.fixture
def registry(tmp_path):
    """The registry node's rendered registry (loopback) and TLS front (haproxy), run for real on
    127.0.0.1; yields (front port, {identity: (cert, key)}, node CA)."""
    needs_tool("docker-registry", "docker-registry")
    needs_tool("haproxy")
    _, state, nodes = render_yaml(STACK, tmp_path)
    written = files(user_data(nodes[0]))
    config = yaml.safe_load(written["/etc/blackfish/registry/config.yml"])
    assert config["http"]["addr"] == "127.0.0.1:5001" and "tls" not in config["http"]
    backend, front = free_port(), free_port()
    config["http"]["addr"] = f"127.0.0.1:{backend}"
    config["storage"]["filesystem"]["rootdirectory"] = str(tmp_path / "data")
    (tmp_path / "config.yml").write_text(yaml.safe_dump(config))
    front_dir = tmp_path / "front"
    front_dir.mkdir()
    for name in ("front.pem", "cas.pem"):
        (front_dir / name).write_text(written[FRONT + name])
    cfg = written[FRONT + "haproxy.cfg"]
    assert "bind :5000 " in cfg and "server registry 127.0.0.1:5001" in cfg
    cfg = (cfg.replace("bind :5000 ", f"bind 127.0.0.1:{front} ").replace(FRONT, f"{front_dir}/")
           .replace("127.0.0.1:5001", f"127.0.0.1:{backend}"))
    (front_dir / "haproxy.cfg").write_text(cfg)
    logs = [open(tmp_path / "registry.log", "w"), open(tmp_path / "front.log", "w")]
    processes = [
        subprocess.Popen(["docker-registry", "serve", str(tmp_path / "config.yml")], stdout=logs[0], stderr=subprocess.STDOUT),
        subprocess.Popen(["haproxy", "-db", "-f", str(front_dir / "haproxy.cfg")], stdout=logs[1], stderr=subprocess.STDOUT),
    ]
    try:
        wait_for_port(backend, processes[0], tmp_path / "registry.log")
        wait_for_port(front, processes[1], tmp_path / "front.log")
        home = state.path
        identities = {
            "operator": (home / "cert.pem", home / "key.pem"),
            "manager": (home / "nodes/reg-01.client-cert.pem", home / "nodes/reg-01.client-key.pem"),
            "manager node": (home / "nodes/reg-01.cert.pem", home / "nodes/reg-01.key.pem"),
            "worker": (home / "nodes/reg-02.cert.pem", home / "nodes/reg-02.key.pem"),
        }
        yield front, identities, home / "ca.pem"
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)
        for log in logs:
            log.close()


def curl(port: int, ca: Path, *extra: str, path: str = "/v2/") -> subprocess.CompletedProcess:
    needs_tool("curl")
    name = "registry.service.reg"
    return subprocess.run(["curl", "-sS", "--max-time", "20", "--resolve", f"{name}:{port}:127.0.0.1",
                           "--cacert", str(ca), *extra, f"https://{name}:{port}{path}"],
                          capture_output=True, text=True)


def as_identity(identity: tuple[Path, Path]) -> list[str]:
    return ["--cert", str(identity[0]), "--key", str(identity[1])]


@pytest.mark.parametrize("who", ["operator", "manager", "manager node", "worker"])
def test_the_registry_serves_v2_over_tls_to_every_certificate_of_the_stack(registry, who):
    port, identities, ca = registry
    proc = curl(port, ca, *as_identity(identities[who]), "-w", "\n%{http_code}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "200" and proc.stdout.startswith("{}")


@pytest.mark.parametrize(("who", "status"), [("operator", "202"), ("manager", "202"), ("manager node", "403"), ("worker", "403")])
def test_finding_6_only_the_clients_ca_may_push(registry, who, status):
    """Issue 16, finding 6: starting an upload (the first request of a push) is refused to node
    certificates, a worker's included, and accepted for operators (CI) and managers."""
    port, identities, ca = registry
    proc = curl(port, ca, *as_identity(identities[who]), "-X", "POST", "-o", "/dev/null", "-w", "%{http_code}",
                path="/v2/smoke/busybox/blobs/uploads/")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == status


def test_the_registry_refuses_a_client_without_a_certificate(registry):
    port, _, ca = registry
    proc = curl(port, ca)
    # The front asks for a client certificate and gets none, so it ends the connection: with
    # TLS 1.3 curl sees that during the handshake (35), or as the alert or the closed socket when
    # it sends or reads its request (55, 56). Never an answer.
    assert proc.returncode in (35, 55, 56), (proc.returncode, proc.stderr)
    assert proc.stdout == ""


def test_haproxy_accepts_the_edge_configuration(tmp_path):
    needs_tool("haproxy")
    _, _, nodes = render_yaml(STACK, tmp_path)
    config = tmp_path / "haproxy.cfg"
    config.write_text(files(user_data(nodes[0]))["/etc/blackfish/haproxy/haproxy.cfg"])
    proc = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Configuration file is valid" in proc.stdout + proc.stderr
