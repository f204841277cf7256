"""The stack's PKI as files in its state directory: what each certificate says, and reruns."""

from __future__ import annotations

import datetime
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_ssh_private_key, pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from blackfish import pki
from blackfish.errors import UsageError
from blackfish.pki import certs
from blackfish.state import StateDir
from tests.support.pki import make_stack, snapshot

LAYOUT = {
    "ca.pem", "ca-key.pem", "clients-ca.pem", "clients-ca-key.pem",
    "cert.pem", "key.pem", "client.pfx", "client.pfx.password",
    "ssh/id_ed25519", "ssh/id_ed25519.pub",
    "nodes/s-01.cert.pem", "nodes/s-01.key.pem", "nodes/s-02.cert.pem", "nodes/s-02.key.pem",
    "nodes/s-03.cert.pem", "nodes/s-03.key.pem",
    # The three nodes are managers: each has an engine-client certificate from the clients CA.
    "nodes/s-01.client-cert.pem", "nodes/s-01.client-key.pem", "nodes/s-02.client-cert.pem", "nodes/s-02.client-key.pem",
    "nodes/s-03.client-cert.pem", "nodes/s-03.client-key.pem",
}
CAS = {"ca.pem", "ca-key.pem", "clients-ca.pem", "clients-ca-key.pem"}


@pytest.fixture
def state(tmp_path) -> StateDir:
    return StateDir("s", tmp_path)


def load(state: StateDir, rel: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(state.read(rel))


def ext(cert: x509.Certificate, kind) -> x509.Extension:
    return cert.extensions.get_extension_for_class(kind)


def validity(cert: x509.Certificate) -> datetime.timedelta:
    return cert.not_valid_after_utc - cert.not_valid_before_utc


def test_first_run_writes_the_documented_layout(state):
    written = pki.ensure_pki(make_stack(), state)
    assert set(written) == LAYOUT
    assert set(snapshot(state.path)) - {".lock", pki.CHECKED} == LAYOUT


def test_the_ca_is_a_name_constrained_p256_ca_for_ten_years(state):
    pki.ensure_pki(make_stack(), state)
    ca = load(state, "ca.pem")
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey) and ca.public_key().curve.name == "secp256r1"
    basic = ext(ca, x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length == 0
    usage = ext(ca, x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign and not usage.value.digital_signature
    ski = ext(ca, x509.SubjectKeyIdentifier)
    assert not ski.critical
    assert ext(ca, x509.AuthorityKeyIdentifier).value.key_identifier == ski.value.digest
    constraints = ext(ca, x509.NameConstraints)
    assert constraints.critical and constraints.value.excluded_subtrees is None
    assert set(constraints.value.permitted_subtrees) == {
        x509.DNSName("s"), x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_network("10.241.0.0/24")),
        x509.IPAddress(ipaddress.ip_network("127.0.0.0/8")), x509.IPAddress(ipaddress.ip_network("::1/128")),
    }
    assert datetime.timedelta(days=3650) <= validity(ca) <= datetime.timedelta(days=3651)
    assert ca.issuer == ca.subject


def test_a_node_certificate_carries_its_names_and_both_usages(state):
    stack = make_stack()
    pki.ensure_pki(stack, state)
    ca, cert = load(state, "ca.pem"), load(state, "nodes/s-01.cert.pem")
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "s-01.node.dc1.s"
    sans = ext(cert, x509.SubjectAlternativeName)
    assert not sans.critical
    assert sans.value.get_values_for_type(x509.DNSName) == [
        "s-01.node.dc1.s", "s-01.s", "localhost", "consul.service.s", "server.dc1.s", "registry.service.s"]
    assert sans.value.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.241.0.11"), ipaddress.ip_address("127.0.0.1")]
    eku = ext(cert, x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH] and not eku.critical
    basic = ext(cert, x509.BasicConstraints)
    assert basic.critical and not basic.value.ca
    usage = ext(cert, x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_encipherment and not usage.value.key_cert_sign
    assert ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == ext(ca, x509.SubjectKeyIdentifier).value.digest
    assert validity(cert) == datetime.timedelta(days=825, hours=1)
    cert.verify_directly_issued_by(ca)


def test_worker_nodes_have_no_server_or_registry_names(state):
    stack = make_stack(ips=("10.241.0.11", "10.241.0.12", "10.241.0.13", "10.241.0.14"))
    pki.ensure_pki(stack, state)
    names = ext(load(state, "nodes/s-04.cert.pem"), x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert names == ["s-04.node.dc1.s", "s-04.s", "localhost", "consul.service.s"]


def test_the_client_certificate_is_for_client_auth_only(state):
    pki.ensure_pki(make_stack(), state)
    cert = load(state, "cert.pem")
    assert cert.subject.rfc4514_string() == "CN=blackfish-admin,OU=operator"
    cert.verify_directly_issued_by(load(state, "clients-ca.pem"))
    assert list(ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    with pytest.raises(x509.ExtensionNotFound):
        ext(cert, x509.SubjectAlternativeName)
    key = load_pem_private_key(state.read("key.pem"), None)
    assert key.public_key() == cert.public_key()


@pytest.mark.parametrize("kind, check", [
    ("ecdsa-p384", lambda k: isinstance(k, ec.EllipticCurvePublicKey) and k.curve.name == "secp384r1"),
    ("rsa-2048", lambda k: isinstance(k, rsa.RSAPublicKey) and k.key_size == 2048),
])
def test_the_key_kind_comes_from_nodes_yml(state, kind, check):
    pki.ensure_pki(make_stack(key=kind, ips=("10.241.0.11",)), state)
    for rel in ("ca.pem", "cert.pem", "nodes/s-01.cert.pem"):
        assert check(load(state, rel).public_key()), rel
    if kind.startswith("rsa"):
        assert ext(load(state, "nodes/s-01.cert.pem"), x509.KeyUsage).value.key_encipherment


def test_name_constraints_can_be_turned_off(state):
    pki.ensure_pki(make_stack(name_constraints=False), state)
    with pytest.raises(x509.ExtensionNotFound):
        ext(load(state, "ca.pem"), x509.NameConstraints)


def test_a_rerun_changes_no_file(state):
    stack = make_stack()
    pki.ensure_pki(stack, state)
    before = snapshot(state.path)
    assert pki.ensure_pki(stack, state) == []
    assert snapshot(state.path) == before


def test_modes_private_keys_0600_directories_0700(state):
    pki.ensure_pki(make_stack(), state)
    files = snapshot(state.path)
    for rel in ("ca-key.pem", "key.pem", "client.pfx", "client.pfx.password", "ssh/id_ed25519", "nodes/s-02.key.pem"):
        assert files[rel][2] == 0o600, rel
    for directory in (state.path, state.path / "nodes", state.path / "ssh"):
        assert directory.stat().st_mode & 0o777 == 0o700, directory


def test_changing_one_node_ip_reissues_that_node_only(state):
    pki.ensure_pki(make_stack(), state)
    before = snapshot(state.path)
    written = pki.ensure_pki(make_stack(ips=("10.241.0.11", "10.241.0.22", "10.241.0.13")), state)
    assert sorted(written) == ["nodes/s-02.cert.pem", "nodes/s-02.key.pem"]
    after = snapshot(state.path)
    assert {rel for rel in after if after[rel] != before.get(rel)} - {pki.CHECKED} == set(written)
    sans = ext(load(state, "nodes/s-02.cert.pem"), x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("10.241.0.22") in sans.get_values_for_type(x509.IPAddress)


def test_a_node_that_left_the_stack_loses_its_certificate(state):
    pki.ensure_pki(make_stack(), state)
    assert pki.ensure_pki(make_stack(ips=("10.241.0.11", "10.241.0.12")), state) == []
    assert not (state.path / "nodes/s-03").exists()


def test_certificates_expiring_within_30_days_are_reissued(state, monkeypatch):
    stack = make_stack()
    monkeypatch.setattr(certs, "LEAF_VALIDITY", datetime.timedelta(days=29))
    pki.ensure_pki(stack, state)
    monkeypatch.undo()
    written = pki.ensure_pki(stack, state)
    assert set(written) == {"cert.pem", "key.pem", "client.pfx"} | {
        f"nodes/s-0{i}.{f}" for i in (1, 2, 3) for f in ("cert.pem", "key.pem", "client-cert.pem", "client-key.pem")}
    assert validity(load(state, "nodes/s-01.cert.pem")) > datetime.timedelta(days=800)


def test_a_new_admin_network_needs_rotate_ca_which_replaces_everything_under_it(state):
    pki.ensure_pki(make_stack(), state)
    old_ssh, before = state.read("ssh/id_ed25519"), snapshot(state.path)
    moved = make_stack(network="10.241.1.0/24", ips=("10.241.1.11", "10.241.1.12", "10.241.1.13"))
    with pytest.raises(UsageError, match=r"ca\.pem: its name constraints differ .* `blackfish certs rotate --ca s`"):
        pki.ensure_pki(moved, state)
    assert snapshot(state.path) == before
    written = pki.rotate(moved, state, ca=True)
    assert set(written) == LAYOUT - {"ssh/id_ed25519", "ssh/id_ed25519.pub", "client.pfx.password"}
    assert state.read("ssh/id_ed25519") == old_ssh


def test_rotate_issues_new_leaves_under_the_same_ca(state):
    stack = make_stack()
    pki.ensure_pki(stack, state)
    before = snapshot(state.path)
    written = pki.rotate(stack, state)
    assert set(written) == LAYOUT - CAS - {"ssh/id_ed25519", "ssh/id_ed25519.pub", "client.pfx.password"}
    after = snapshot(state.path)
    for rel in (*CAS, "client.pfx.password", "ssh/id_ed25519"):
        assert after[rel] == before[rel], rel
    load(state, "nodes/s-01.cert.pem").verify_directly_issued_by(load(state, "ca.pem"))


def test_rotate_ca_replaces_the_ca_too(state):
    stack = make_stack()
    pki.ensure_pki(stack, state)
    old_ca = load(state, "ca.pem")
    written = pki.rotate(stack, state, ca=True)
    assert CAS | {"nodes/s-03.cert.pem", "cert.pem", "client.pfx"} <= set(written)
    new_ca = load(state, "ca.pem")
    assert new_ca.public_key() != old_ca.public_key()
    load(state, "nodes/s-03.cert.pem").verify_directly_issued_by(new_ca)
    load(state, "cert.pem").verify_directly_issued_by(load(state, "clients-ca.pem"))


def test_client_pfx_opens_with_its_password_only(state):
    pki.ensure_pki(make_stack(), state)
    password = state.read("client.pfx.password").decode().strip()
    assert len(password) >= 32
    bundle = pkcs12.load_pkcs12(state.read("client.pfx"), password.encode())
    assert bundle.cert.certificate == load(state, "cert.pem")
    assert bundle.key.public_key() == load(state, "cert.pem").public_key()
    assert [c.certificate for c in bundle.additional_certs] == [load(state, "ca.pem")]
    with pytest.raises(ValueError):
        pkcs12.load_pkcs12(state.read("client.pfx"), b"not-the-password")


def test_the_ssh_key_is_ed25519_with_a_matching_public_line(state):
    pki.ensure_pki(make_stack(), state)
    key = load_ssh_private_key(state.read("ssh/id_ed25519"), None)
    line = state.read("ssh/id_ed25519.pub").decode()
    assert line.startswith("ssh-ed25519 ") and line.endswith(" blackfish@s\n")
    from blackfish.pki.sshkey import public_line

    assert public_line(key, "s") == line


def test_ensure_pki_runs_inside_a_held_lock(state):
    stack = make_stack()
    with state.lock():
        assert pki.ensure_pki(stack, state)
        with state.lock():
            assert pki.ensure_pki(stack, state) == []


def test_describe_lists_every_certificate_with_its_fingerprint(state):
    pki.ensure_pki(make_stack(), state)
    rows = pki.describe(state)
    assert [r["file"] for r in rows] == ["ca.pem", "clients-ca.pem", "cert.pem"] + [
        f"nodes/s-0{i}.{f}" for i in (1, 2, 3) for f in ("cert.pem", "client-cert.pem")]
    node = rows[5]
    assert node["subject"] == "CN=s-02.node.dc1.s"
    assert node["sans"] == ["s-02.node.dc1.s", "s-02.s", "localhost", "consul.service.s", "server.dc1.s", "10.241.0.12", "127.0.0.1"]
    from cryptography.hazmat.primitives import hashes

    assert node["sha256"].replace(":", "") == load(state, "nodes/s-02.cert.pem").fingerprint(hashes.SHA256()).hex().upper()
    assert node["not_after"].endswith("Z")

