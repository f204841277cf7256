"""`blackfish certs show` and `blackfish certs rotate`, run as a user runs them."""

from __future__ import annotations

import json

from cryptography import x509

from blackfish import pki
from blackfish.state import StateDir
from tests.conftest import assert_no_traceback, blackfish
from tests.support.pki import make_stack, stack_yaml


def fingerprints(home) -> dict[str, str]:
    return {row["file"]: row["sha256"] for row in pki.describe(StateDir("s", home))}


def test_show_without_certificates_says_so_in_one_line(bf_home, tmp_path):
    result = blackfish("certs", "show", "nosuch", cwd=tmp_path)
    assert result.returncode == 2
    assert result.err.strip().splitlines() == [
        f"blackfish: error: stack 'nosuch' has no certificates in {bf_home / 'nosuch'} (run `blackfish up` first)"]


def test_rotate_then_show_from_the_nodes_file(bf_home, tmp_path):
    (tmp_path / "nodes.yml").write_text(stack_yaml())
    rotated = blackfish("certs", "rotate", cwd=tmp_path)
    assert rotated.returncode == 0, rotated.err
    assert "wrote ca.pem" in rotated.out and "wrote nodes/s-03.cert.pem" in rotated.out

    shown = blackfish("certs", "show", cwd=tmp_path)
    assert shown.returncode == 0, shown.err
    blocks = {b.splitlines()[0]: b for b in shown.out.strip().split("\n\n")}
    assert list(blocks) == ["ca.pem", "clients-ca.pem", "cert.pem"] + [
        f"nodes/s-0{i}.{f}" for i in (1, 2, 3) for f in ("cert.pem", "client-cert.pem")]
    node = blocks["nodes/s-01.cert.pem"].splitlines()
    assert node[1].split() == ["subject", "CN=s-01.node.dc1.s"]
    assert node[2].startswith("  SANs       s-01.node.dc1.s, s-01.s, localhost,") and node[2].endswith("10.241.0.11, 127.0.0.1")
    assert node[4].split() == ["SHA-256", fingerprints(bf_home)["nodes/s-01.cert.pem"]]

    as_json = blackfish("certs", "show", "s", "--json", cwd=tmp_path)
    rows = json.loads(as_json.out)
    assert {r["file"]: r["sha256"] for r in rows} == fingerprints(bf_home)
    assert set(rows[0]) == {"file", "subject", "sans", "not_after", "sha256"}


def test_rotate_a_recorded_stack_keeps_its_key_kind_and_ca(bf_home, tmp_path):
    stack = make_stack(key="ecdsa-p384", ips=("10.241.0.11",))
    state = StateDir("s", bf_home)
    pki.ensure_pki(stack, state)
    state.save_record(stack.to_record())
    before = fingerprints(bf_home)

    result = blackfish("certs", "rotate", "s", cwd=tmp_path)  # no nodes.yml here
    assert result.returncode == 0, result.err
    after = fingerprints(bf_home)
    assert after["ca.pem"] == before["ca.pem"]
    assert after["nodes/s-01.cert.pem"] != before["nodes/s-01.cert.pem"]
    node = x509.load_pem_x509_certificate(state.read("nodes/s-01.cert.pem"))
    assert node.public_key().curve.name == "secp384r1"


def test_rotate_ca_replaces_the_ca_and_says_what_to_reinstall(bf_home, tmp_path):
    (tmp_path / "nodes.yml").write_text(stack_yaml())
    assert blackfish("certs", "rotate", cwd=tmp_path).returncode == 0
    before = fingerprints(bf_home)
    result = blackfish("certs", "rotate", "s", "--ca", cwd=tmp_path)
    assert result.returncode == 0, result.err
    assert "re-run `blackfish certs install s`" in result.err
    assert fingerprints(bf_home)["ca.pem"] != before["ca.pem"]


def test_rotate_for_a_stack_the_nodes_file_does_not_describe(bf_home, tmp_path):
    (tmp_path / "nodes.yml").write_text(stack_yaml())
    result = blackfish("certs", "rotate", "other", cwd=tmp_path)
    assert result.returncode == 2
    assert_no_traceback(result)
    assert "describes stack 's', not 'other'" in result.err
