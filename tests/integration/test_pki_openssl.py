"""The PKI checked by the real openssl command line: verify, x509 -text, pkcs12."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

from blackfish import pki
from blackfish.pki import certs, keys
from blackfish.state import StateDir
from tests.conftest import needs_tool
from tests.support.pki import make_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def openssl() -> str:
    return needs_tool("openssl")


@pytest.fixture(scope="module")
def state(tmp_path_factory) -> StateDir:
    state = StateDir("s", tmp_path_factory.mktemp("home"))
    pki.ensure_pki(make_stack(), state)
    return state


def run(*argv, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True)


def text_of(openssl: str, path: Path) -> str:
    result = run(openssl, "x509", "-noout", "-text", "-in", path, cwd=path.parent)
    assert result.returncode == 0, result.stderr
    return result.stdout


def sign_outside(state: StateDir, dns: tuple[str, ...] = (), ips: tuple[str, ...] = ()) -> Path:
    """A leaf signed by the stack's CA for names the CA's constraints do not permit."""
    ca_cert = x509.load_pem_x509_certificate(state.read("ca.pem"))
    ca_key = keys.from_pem(state.read("ca-key.pem"))
    profile = certs.Profile(common_name=(dns or ips)[0], dns_names=dns, ip_addresses=ips)
    cert = certs.issue(profile, keys.generate("ecdsa-p256"), ca_cert, ca_key)
    path = state.path.parent / f"outside-{profile.common_name}.pem"
    path.write_bytes(pki._pem(cert))
    return path


def test_openssl_verifies_every_node_and_the_client(openssl, state):
    nodes = sorted(state.path.glob("nodes/*.cert.pem"))
    assert len(nodes) == 3
    managers = sorted(state.path.glob("nodes/*.client-cert.pem"))
    for ca, purpose, paths in (("ca.pem", "sslserver", nodes), ("ca.pem", "sslclient", nodes),
                               ("clients-ca.pem", "sslclient", managers + [state.path / "cert.pem"])):
        result = run(openssl, "verify", "-CAfile", ca, "-purpose", purpose, *paths, cwd=state.path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.count(": OK") == len(paths)
    # The two CAs are distinct: a node certificate is no client of the engines (issue 16).
    assert run(openssl, "verify", "-CAfile", "clients-ca.pem", *nodes, cwd=state.path).returncode != 0


def test_the_client_certificate_is_no_server(openssl, state):
    result = run(openssl, "verify", "-CAfile", "clients-ca.pem", "-purpose", "sslserver", "cert.pem", cwd=state.path)
    assert result.returncode != 0
    assert "unsuitable certificate purpose" in result.stdout + result.stderr


def test_openssl_shows_the_ca_constraints(openssl, state):
    text = text_of(openssl, state.path / "ca.pem")
    assert "X509v3 Basic Constraints: critical\n                CA:TRUE, pathlen:0" in text
    assert "X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign" in text
    assert "X509v3 Name Constraints: critical" in text
    permitted = text.split("Permitted:")[1].split("Signature Algorithm")[0].split()
    assert permitted == ["DNS:s", "DNS:localhost", "IP:10.241.0.0/255.255.255.0", "IP:127.0.0.0/255.0.0.0",
                         "IP:0:0:0:0:0:0:0:1/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF"]


def test_openssl_shows_the_node_names_and_usages(openssl, state):
    text = text_of(openssl, state.path / "nodes/s-01.cert.pem")
    assert "Subject: CN = s-01.node.dc1.s" in text
    assert ("DNS:s-01.node.dc1.s, DNS:s-01.s, DNS:localhost, DNS:consul.service.s, DNS:server.dc1.s, "
            "DNS:registry.service.s, IP Address:10.241.0.11, IP Address:127.0.0.1") in text
    assert "TLS Web Server Authentication, TLS Web Client Authentication" in text
    client = text_of(openssl, state.path / "cert.pem")
    assert "Subject: OU = operator, CN = blackfish-admin" in client and "TLS Web Client Authentication" in client
    assert "TLS Web Server Authentication" not in client


@pytest.mark.parametrize("outside", [
    {"dns": ("evil.example.com",)},
    {"dns": ("s-01",)},  # the bare node name the seeds used: rejected the same way
    {"dns": ("s-01.s",), "ips": ("10.9.9.9",)},  # one address outside the admin network spoils it all
])
def test_openssl_rejects_a_certificate_outside_the_constraints(openssl, state, outside):
    path = sign_outside(state, **outside)
    result = run(openssl, "verify", "-CAfile", "ca.pem", path, cwd=state.path)
    assert result.returncode != 0
    assert "permitted subtree violation" in result.stdout + result.stderr


def test_without_constraints_the_same_certificate_verifies(openssl, tmp_path):
    state = StateDir("s", tmp_path)
    pki.ensure_pki(dataclasses.replace(make_stack(), name_constraints=False), state)
    result = run(openssl, "verify", "-CAfile", "ca.pem", sign_outside(state, dns=("evil.example.com",)), cwd=state.path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_openssl_opens_client_pfx_with_its_password(openssl, state):
    result = run(openssl, "pkcs12", "-in", "client.pfx", "-passin", "file:client.pfx.password", "-nodes", cwd=state.path)
    assert result.returncode == 0, result.stderr
    leaf = x509.load_pem_x509_certificate(state.read("cert.pem"))
    bundled = x509.load_pem_x509_certificates(result.stdout.encode())
    assert leaf in bundled and x509.load_pem_x509_certificate(state.read("ca.pem")) in bundled
    assert "-----BEGIN PRIVATE KEY-----" in result.stdout

    wrong = run(openssl, "pkcs12", "-in", "client.pfx", "-passin", "pass:wrong", "-nodes", cwd=state.path)
    assert wrong.returncode != 0 and "mac verify error" in wrong.stderr.lower()


def test_ssh_keygen_reads_the_ssh_key(state):
    ssh_keygen = needs_tool("ssh-keygen", "openssh-client")
    result = run(ssh_keygen, "-y", "-f", "ssh/id_ed25519", cwd=state.path)
    assert result.returncode == 0, result.stderr
    assert state.read("ssh/id_ed25519.pub").decode().startswith(result.stdout.strip() + " ")
