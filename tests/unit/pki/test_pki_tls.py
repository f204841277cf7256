"""Real mutual-TLS handshakes (Python ssl, OpenSSL underneath) with the stack's certificates."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest

from blackfish import pki
from blackfish.state import StateDir
from tests.support.pki import make_stack


@pytest.fixture(scope="module")
def stacks(tmp_path_factory) -> dict[str, Path]:
    """Two stacks with the same names and addresses but their own CAs."""
    base = tmp_path_factory.mktemp("home")
    pki.ensure_pki(make_stack(name="s"), StateDir("s", base))
    other = StateDir("s", base / "other")
    pki.ensure_pki(make_stack(name="s"), other)
    return {"s": base / "s", "other": other.path}


def server_context(ca: Path, cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_context(ca: Path, cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(ca)
    return ctx


def handshake(server: ssl.SSLContext, client: ssl.SSLContext, hostname: str) -> tuple[Exception | None, Exception | None, str | None]:
    """One exchange over a socket pair; returns (server error, client error, peer CN the server saw)."""
    a, b = socket.socketpair()
    result: dict = {"server": None, "peer": None}

    def serve():
        try:
            with server.wrap_socket(a, server_side=True) as tls:
                subject = dict(x[0] for x in tls.getpeercert()["subject"])
                result["peer"] = subject["commonName"]
                tls.sendall(tls.recv(5))
        except (ssl.SSLError, OSError) as exc:
            result["server"] = exc

    thread = threading.Thread(target=serve)
    thread.start()
    client_error = None
    try:
        with client.wrap_socket(b, server_hostname=hostname) as tls:
            tls.sendall(b"hello")
            # TLS 1.3 reports a rejected client certificate only on the first read.
            if tls.recv(5) != b"hello":
                raise ssl.SSLError("no echo")
    except (ssl.SSLError, OSError) as exc:
        client_error = exc
    finally:
        b.close()
        thread.join(10)
        a.close()
    return result["server"], client_error, result["peer"]


def node_files(root: Path, name: str = "s-01") -> tuple[Path, Path, Path]:
    return root / "ca.pem", root / "nodes" / f"{name}.cert.pem", root / "nodes" / f"{name}.key.pem"


def client_files(root: Path) -> tuple[Path, Path, Path]:
    return root / "ca.pem", root / "cert.pem", root / "key.pem"


def engine_files(root: Path, name: str = "s-01") -> tuple[Path, Path, Path]:
    """What a node's engine serves with: its node certificate, and the clients CA to verify callers."""
    return root / "clients-ca.pem", root / "nodes" / f"{name}.cert.pem", root / "nodes" / f"{name}.key.pem"


@pytest.mark.parametrize("hostname", ["s-01.node.dc1.s", "s-01.s", "localhost", "registry.service.s", "10.241.0.11", "127.0.0.1"])
def test_the_user_reaches_a_node_by_each_of_its_names(stacks, hostname):
    server_error, client_error, peer = handshake(
        server_context(*engine_files(stacks["s"])), client_context(*client_files(stacks["s"])), hostname)
    assert (server_error, client_error) == (None, None)
    assert peer == "blackfish-admin"


def test_finding_6_an_engine_refuses_a_worker_certificate_and_accepts_a_managers(stacks):
    """Issue 16, finding 6: engines trust the clients CA only; node certificates come from the node CA."""
    root = stacks["s"]
    server_error, client_error, _ = handshake(
        server_context(*engine_files(root, "s-01")), client_context(*node_files(root, "s-02")), "s-01.s")
    assert isinstance(server_error, ssl.SSLError) and "certificate verify failed" in str(server_error)
    assert client_error is not None
    manager = (root / "ca.pem", root / "nodes/s-02.client-cert.pem", root / "nodes/s-02.client-key.pem")
    server_error, client_error, peer = handshake(server_context(*engine_files(root, "s-01")), client_context(*manager), "s-01.s")
    assert (server_error, client_error, peer) == (None, None, "s-02.node.dc1.s")


def test_nodes_authenticate_each_other(stacks):
    server_error, client_error, peer = handshake(
        server_context(*node_files(stacks["s"], "s-01")), client_context(*node_files(stacks["s"], "s-02")), "s-01.node.dc1.s")
    assert (server_error, client_error, peer) == (None, None, "s-02.node.dc1.s")


def test_a_client_certificate_from_another_stack_is_refused(stacks):
    ca, cert, key = client_files(stacks["other"])
    server_error, client_error, _ = handshake(
        server_context(*engine_files(stacks["s"])), client_context(stacks["s"] / "ca.pem", cert, key), "s-01.s")
    assert isinstance(server_error, ssl.SSLError) and "certificate verify failed" in str(server_error)
    assert client_error is not None


def test_a_node_from_another_stack_is_refused_by_the_client(stacks):
    server_error, client_error, _ = handshake(
        server_context(*node_files(stacks["other"])), client_context(*client_files(stacks["s"])), "s-01.s")
    assert isinstance(client_error, ssl.SSLCertVerificationError) and "certificate verify failed" in str(client_error)
    assert server_error is not None


def test_a_name_the_node_does_not_carry_is_refused(stacks):
    _, client_error, _ = handshake(
        server_context(*node_files(stacks["s"], "s-01")), client_context(*client_files(stacks["s"])), "s-02.node.dc1.s")
    assert isinstance(client_error, ssl.SSLCertVerificationError) and "mismatch" in str(client_error)
