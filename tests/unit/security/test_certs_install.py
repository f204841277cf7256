"""Issue 16, finding 2: `certs install` refuses a CA that could vouch for internet names or addresses.

The CA files below are made the way an older blackfish (or a hand-edited nodes.yml) made them:
constrained to a public suffix (`stack: com`), to a public admin network, or not at all.
"""

from __future__ import annotations

import pytest

from blackfish.pki import certs, keys
from blackfish.state import StateDir
from tests.conftest import assert_no_traceback, blackfish
from tests.support.pki import stack_yaml


def write_ca(state: StateDir, permitted) -> None:
    key = keys.generate("ecdsa-p256")
    state.write("ca-key.pem", keys.to_pem(key))
    state.write("ca.pem", _pem(certs.make_ca(state.stack, key, permitted)), mode=0o644)


def _pem(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def install(tmp_path, *extra):
    result = blackfish("certs", "install", "s", "--only", "docker", "--dry-run", *extra, cwd=tmp_path)
    assert_no_traceback(result)
    return result


@pytest.mark.parametrize(("permitted", "why"), [
    (None, "the CA has no name constraints"),
    (certs.permitted_names("com", "192.168.56.0/24"), "it may sign names under the public suffix 'com'"),
    (certs.permitted_names("s", "8.8.8.0/24"), "it may sign addresses in the public network 8.8.8.0/24"),
])
def test_finding_2_certs_install_refuses_a_ca_not_confined_to_private_names(bf_home, tmp_path, permitted, why):
    (tmp_path / "nodes.yml").write_text(stack_yaml(name_constraints=permitted is not None))
    assert blackfish("render", cwd=tmp_path).returncode == 0
    state = StateDir("s", bf_home)
    write_ca(state, permitted)
    refused = install(tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"blackfish: error: {state.file('ca.pem')}: {why}: trusting it here would let whoever holds its key "
        "impersonate internet sites to this machine; refusing (use --allow-unconstrained if you accept that)")
    assert "tee" not in refused.stdout and "cp " not in refused.stdout
    knowingly = install(tmp_path, "--allow-unconstrained")
    assert knowingly.returncode == 0, knowingly.stderr
    assert f"# WARNING: {state.file('ca.pem')}: {why}" in knowingly.stdout


def test_finding_2_a_private_constrained_ca_installs_without_a_warning(bf_home, tmp_path):
    (tmp_path / "nodes.yml").write_text(stack_yaml())
    assert blackfish("render", cwd=tmp_path).returncode == 0
    result = install(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stdout
