"""`certs install --only nss` and a real headless Chromium: a page served with a node certificate
renders only while the stack's CA is in the NSS database Chromium reads ($HOME/.pki/nssdb)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import assert_no_traceback, blackfish, needs_tool
from tests.support.https import clean_env, serve
from tests.support.pki import stack_yaml

pytestmark = pytest.mark.integration

STACK = "bftnss"
FQDN = f"{STACK}-01.node.dc1.{STACK}"
TEXT = "Hello from bftnss-01 over a blackfish certificate"
PAGE = f"<html><head><title>bftnss</title></head><body><p id='greeting'>{TEXT}</p></body></html>"

# The flags that run Debian's chromium headless as root in a container.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


def render(home: Path, port: int, profile: Path) -> subprocess.CompletedProcess:
    """What Chromium renders for https://FQDN:port/ with HOME=home (so NSS db = home/.pki/nssdb)."""
    chromium = needs_tool("chromium")
    profile.mkdir()
    return subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--host-resolver-rules=MAP {FQDN} 127.0.0.1",
         "--dump-dom", f"https://{FQDN}:{port}/"],
        capture_output=True, text=True, timeout=120, env=clean_env(HOME=str(home)),
    )


def test_chromium_renders_a_node_page_only_with_the_ca_in_nss(bf_home, tmp_path):
    needs_tool("chromium")
    needs_tool("certutil", "libnss3-tools")
    (tmp_path / "nodes.yml").write_text(stack_yaml(STACK, "10.245.0.0/24", ("10.245.0.21",)))
    home, stranger = tmp_path / "home", tmp_path / "stranger-home"
    home.mkdir()
    stranger.mkdir()

    installed = blackfish("certs", "install", "--only", "nss", cwd=tmp_path, env={"HOME": str(home)})
    assert installed.returncode == 0, installed.stderr
    assert_no_traceback(installed)
    nssdb = home / ".pki" / "nssdb"
    assert f"certutil -A -d sql:{nssdb} -t C,, -n blackfish-{STACK} -i {bf_home / STACK / 'ca.pem'}" in installed.stdout
    assert (nssdb / "cert9.db").exists()

    nodes = bf_home / STACK / "nodes"
    with serve(nodes / f"{STACK}-01.cert.pem", nodes / f"{STACK}-01.key.pem", PAGE) as port:
        trusted = render(home, port, tmp_path / "profile-1")
        assert TEXT in trusted.stdout, trusted.stderr[-2000:]

        # The same page for a user whose NSS database lacks the CA: Chromium refuses it.
        refused = render(stranger, port, tmp_path / "profile-2")
        assert TEXT not in refused.stdout
        assert "ERR_CERT_AUTHORITY_INVALID" in refused.stderr

        removed = blackfish("certs", "uninstall", STACK, "--only", "nss", cwd=tmp_path, env={"HOME": str(home)})
        assert removed.returncode == 0, removed.stderr
        assert f"certutil -D -d sql:{nssdb} -n blackfish-{STACK}" in removed.stdout
        again = render(home, port, tmp_path / "profile-3")
        assert TEXT not in again.stdout
        assert "ERR_CERT_AUTHORITY_INVALID" in again.stderr

    listing = subprocess.run(["certutil", "-L", "-d", f"sql:{nssdb}"], capture_output=True, text=True, check=True)
    assert f"blackfish-{STACK}" not in listing.stdout


def test_firefox_profiles_get_the_ca_too(bf_home, tmp_path):
    """A Firefox profile (an NSS database in ~/.mozilla/firefox/<profile>) is found and filled."""
    needs_tool("certutil", "libnss3-tools")
    (tmp_path / "nodes.yml").write_text(stack_yaml(STACK, "10.245.0.0/24", ("10.245.0.21",)))
    profile = tmp_path / "home" / ".mozilla" / "firefox" / "abcd1234.default-release"
    profile.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{profile}", "--empty-password"], check=True)
    env = {"HOME": str(tmp_path / "home")}

    installed = blackfish("certs", "install", "--only", "nss", cwd=tmp_path, env=env)
    assert installed.returncode == 0, installed.stderr
    assert "NSS databases of browsers (2)" in installed.stdout
    listing = subprocess.run(["certutil", "-L", "-d", f"sql:{profile}"], capture_output=True, text=True, check=True)
    assert [line.split() for line in listing.stdout.splitlines() if STACK in line] == [[f"blackfish-{STACK}", "C,,"]]

    assert "already installed" in blackfish("certs", "install", "--only", "nss", cwd=tmp_path, env=env).stdout
    removed = blackfish("certs", "uninstall", "--only", "nss", cwd=tmp_path, env=env)
    assert removed.returncode == 0, removed.stderr
    gone = subprocess.run(["certutil", "-L", "-d", f"sql:{profile}", "-n", f"blackfish-{STACK}"], capture_output=True)
    assert gone.returncode != 0
