"""`certs install --only system` on this Debian machine: curl and Python trust a node's certificate
through the OS bundle, and `certs uninstall` puts the bundle back byte for byte."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import assert_no_traceback, blackfish, needs, needs_tool
from tests.support.https import curl, python_default_context, serve
from tests.support.pki import stack_yaml

pytestmark = pytest.mark.integration

STACK = "bftsys"
NODE = f"{STACK}-01"
FQDN = f"{NODE}.node.dc1.{STACK}"
CERTS_DIR = Path("/etc/ssl/certs")
BUNDLE = CERTS_DIR / "ca-certificates.crt"
ANCHOR = Path(f"/usr/local/share/ca-certificates/blackfish-{STACK}.crt")
JAVA_HOOK = Path("/etc/ca-certificates/update.d/jks-keystore")
JAVA_ALIAS = f"debian:blackfish-{STACK}.pem"
PAGE = "<html><body><p>served by bftsys-01 with its node certificate</p></body></html>"


def _remove_our_ca() -> None:
    """Take this test's CA out of the Debian store as `certs uninstall` would, whatever state
    an interrupted step left (anchor only, anchor and links, dangling links)."""
    if ANCHOR.exists() or list(CERTS_DIR.glob(f"blackfish-{STACK}*")):
        ANCHOR.unlink(missing_ok=True)
        subprocess.run(["update-ca-certificates", "--fresh"], capture_output=True, check=True)
    if JAVA_HOOK.exists():
        subprocess.run([JAVA_HOOK], input=f"-{CERTS_DIR}/blackfish-{STACK}.pem\n", text=True, capture_output=True)


@pytest.fixture
def system_store():
    """The Debian trust store, restored whatever the test does (it is shared with everything else).

    Cleaned first too: a run killed mid-test (no finally) would otherwise make `before` hold our CA."""
    needs(os.geteuid() == 0, "needs root: the test changes the system trust store")
    needs_tool("update-ca-certificates", "ca-certificates")
    needs_tool("curl")
    _remove_our_ca()
    before = BUNDLE.read_bytes()
    try:
        yield before
    finally:
        _remove_our_ca()
        assert BUNDLE.read_bytes() == before, "the system CA bundle was not restored"


def test_curl_and_python_trust_a_node_only_while_the_ca_is_installed(system_store, bf_home, tmp_path):
    (tmp_path / "nodes.yml").write_text(stack_yaml(STACK, "10.245.0.0/24", ("10.245.0.11",)))
    installed = blackfish("certs", "install", "--only", "system", cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr
    assert_no_traceback(installed)
    # Every command is printed as it runs.
    assert f"install -m 0644 {bf_home / STACK / 'ca.pem'} {ANCHOR}" in installed.stdout
    assert "update-ca-certificates" in installed.stdout
    assert ANCHOR.read_bytes() == (bf_home / STACK / "ca.pem").read_bytes()
    assert BUNDLE.read_bytes() != system_store
    assert java_trusts() in (True, None)

    nodes = bf_home / STACK / "nodes"
    with serve(nodes / f"{NODE}.cert.pem", nodes / f"{NODE}.key.pem", PAGE) as port:
        ok = curl(FQDN, port)
        assert ok.returncode == 0, ok.stderr
        assert PAGE in ok.stdout
        trusted = python_default_context(FQDN, port)
        assert trusted.returncode == 0, trusted.stderr
        assert PAGE in trusted.stdout

        again = blackfish("certs", "install", "--only", "system", cwd=tmp_path)
        assert again.returncode == 0 and "already installed" in again.stdout
        assert "update-ca-certificates" not in again.stdout

        removed = blackfish("certs", "uninstall", STACK, cwd=tmp_path)
        assert removed.returncode == 0, removed.stderr

        refused = curl(FQDN, port)
        assert refused.returncode == 60, refused.stderr  # curl: peer certificate cannot be authenticated
        untrusted = python_default_context(FQDN, port)
        assert untrusted.returncode != 0
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr

    assert not ANCHOR.exists()
    assert f"rm -f {ANCHOR}\nupdate-ca-certificates --fresh\n" in removed.stdout
    if JAVA_HOOK.exists():
        assert f"{JAVA_HOOK} <<'EOF'\n-{CERTS_DIR}/blackfish-{STACK}.pem\nEOF\n" in removed.stdout
    # No link into the removed anchor is left behind (plain update-ca-certificates would leave two).
    assert not [p for p in CERTS_DIR.iterdir() if p.is_symlink() and not p.exists()]
    assert BUNDLE.read_bytes() == system_store
    assert java_trusts() in (False, None)


def java_trusts() -> bool | None:
    """Whether Java's cacerts (kept in step with the bundle by ca-certificates-java) has the CA."""
    if not JAVA_HOOK.exists() or shutil.which("keytool") is None:
        return None
    listing = subprocess.run(["keytool", "-list", "-cacerts", "-storepass", "changeit"], capture_output=True, text=True)
    return JAVA_ALIAS in listing.stdout


def test_dry_run_changes_nothing(system_store, bf_home, tmp_path):
    (tmp_path / "nodes.yml").write_text(stack_yaml(STACK, "10.245.0.0/24", ("10.245.0.11",)))
    shown = blackfish("certs", "install", "--only", "system", "--dry-run", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert f"{ANCHOR}\nupdate-ca-certificates\n" in shown.stdout
    assert not ANCHOR.exists()
    assert not (bf_home / STACK / "ca.pem").exists()
    assert BUNDLE.read_bytes() == system_store
