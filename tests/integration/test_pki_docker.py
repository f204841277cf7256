"""Go's TLS stack accepts the node certificates: real dockerds with --tlsverify, reached by the
docker CLI with DOCKER_CERT_PATH = the stack's state directory, by IP and by every DNS name."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from blackfish import pki
from blackfish.state import StateDir
from tests.conftest import needs_netlab
from tests.support.pki import make_stack

pytestmark = pytest.mark.integration

SUBNET = "10.241.0.0/24"
IPS = ("10.241.0.11", "10.241.0.12", "10.241.0.13")
CLIENT_IP = "10.241.0.2"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    needs_netlab()
    from tests.support.netlab import Lab

    base = tmp_path_factory.mktemp("home")
    stack = make_stack(network=SUBNET, ips=IPS)
    state = StateDir(stack.name, base)
    pki.ensure_pki(stack, state)
    other = StateDir(stack.name, base / "other")  # same names, another CA
    pki.ensure_pki(stack, other)

    with Lab("bfpki", SUBNET) as lab:
        hosts = {}
        for node in stack.nodes:
            names = {name: node.ip for name in node.dns_names if name != "localhost"}
            host = lab.add_host(node.name, node.ip, hosts=names)
            # Also on loopback, so the certificate's localhost and 127.0.0.1 names can be tried.
            host.start_dockerd(ca=state.file("clients-ca.pem"), cert=state.file(pki.node_cert(node.name)),
                               key=state.file(pki.node_key(node.name)), extra=("-H", "tcp://127.0.0.1:2376"))
            hosts[node.name] = host
        client = lab.add_host("client", CLIENT_IP, hosts={
            **{n.fqdn: n.ip for n in stack.nodes},
            "wrong.node.dc1.s": IPS[0],  # resolves to s-01, a name its certificate does not carry
        })
        yield {"stack": stack, "state": state, "other": other, "hosts": hosts, "client": client}


def docker_at(host, address: str, cert_path: Path) -> subprocess.CompletedProcess:
    """The docker CLI, run inside a lab host, as a user with DOCKER_CERT_PATH would run it."""
    return host.run(
        ["docker", "-H", f"tcp://{address}:2376", "version", "--format", "{{.Server.Version}}"],
        env={"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(cert_path), "DOCKER_CONTEXT": ""},
        timeout=60,
    )


def test_every_node_answers_on_each_of_its_names_and_addresses(lab):
    failures = []
    for node in lab["stack"].nodes:
        for address in node.dns_names + node.ip_addresses:
            result = docker_at(lab["hosts"][node.name], address, lab["state"].path)
            if result.returncode != 0 or not result.stdout.strip():
                failures.append(f"{node.name} via {address}: {result.stderr.strip()}")
    assert failures == []


def test_the_user_reaches_each_node_from_another_machine(lab):
    for node in lab["stack"].nodes:
        for address in (node.fqdn, node.ip):
            result = docker_at(lab["client"], address, lab["state"].path)
            assert result.returncode == 0, f"{address}: {result.stderr}"


def test_a_name_the_certificate_lacks_is_refused(lab):
    result = docker_at(lab["client"], "wrong.node.dc1.s", lab["state"].path)
    assert result.returncode != 0
    assert "certificate is valid for" in result.stderr and "not wrong.node.dc1.s" in result.stderr


def test_another_stacks_certificates_are_refused(lab):
    result = docker_at(lab["client"], IPS[0], lab["other"].path)
    assert result.returncode != 0
    assert "certificate signed by unknown authority" in result.stderr
