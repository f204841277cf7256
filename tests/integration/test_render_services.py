"""The rendered service configurations are read by the real programs: Debian's distribution
registry serves /v2/ over TLS with the node certificate (and only to clients with a
certificate from the stack's CA); haproxy accepts the edge's configuration."""

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
      - ip: 10.242.0.42
"""
NODE_TLS = "/etc/docker/tls"
# Where the registry's container sees the node's TLS material and its storage (the unit's volumes).
CONTAINER_TLS, CONTAINER_DATA = "/tls/", "/var/lib/registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def relocate(value, tls: Path, data: Path):
    """The config with the container's paths moved to this machine's (nothing else changes)."""
    if isinstance(value, dict):
        return {k: relocate(v, tls, data) for k, v in value.items()}
    if isinstance(value, list):
        return [relocate(v, tls, data) for v in value]
    if isinstance(value, str) and value.startswith(CONTAINER_TLS):
        return str(tls / value[len(CONTAINER_TLS):])
    if isinstance(value, str) and value == CONTAINER_DATA:
        return str(data)
    return value


@pytest.fixture
def registry(tmp_path):
    """Debian's docker-registry running the rendered config on 127.0.0.1; yields (port, tls dir)."""
    needs_tool("docker-registry", "docker-registry")
    _, _, nodes = render_yaml(STACK, tmp_path)
    written = files(user_data(nodes[0]))
    tls = tmp_path / "tls"
    tls.mkdir()
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tls / name).write_text(written[f"{NODE_TLS}/{name}"])
    config = relocate(yaml.safe_load(written["/etc/blackfish/registry/config.yml"]), tls, tmp_path / "data")
    port = free_port()
    config["http"]["addr"] = f"127.0.0.1:{port}"
    (tmp_path / "config.yml").write_text(yaml.safe_dump(config))
    log = open(tmp_path / "registry.log", "w")
    process = subprocess.Popen(["docker-registry", "serve", str(tmp_path / "config.yml")], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "registry.log").read_text()
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        yield port, tls
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def curl(port: int, tls: Path, *extra: str) -> subprocess.CompletedProcess:
    needs_tool("curl")
    name = "registry.service.reg"
    return subprocess.run(["curl", "-sS", "--max-time", "20", "--resolve", f"{name}:{port}:127.0.0.1",
                           "--cacert", str(tls / "ca.pem"), *extra, f"https://{name}:{port}/v2/"],
                          capture_output=True, text=True)


def test_the_registry_serves_v2_over_tls_to_clients_with_a_stack_certificate(registry):
    port, tls = registry
    proc = curl(port, tls, "--cert", str(tls / "cert.pem"), "--key", str(tls / "key.pem"), "-w", "\n%{http_code}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "200" and proc.stdout.startswith("{}")


def test_the_registry_refuses_a_client_without_a_certificate(registry):
    port, tls = registry
    proc = curl(port, tls)
    # The registry asks for a client certificate and gets none, so it ends the connection: with
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
