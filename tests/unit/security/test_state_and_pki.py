"""Issue 16: the state directory and the PKI under damage, interruption and foreign files.

Each test reproduces one finding (its number in the test's name) through the real CLI and
shows the fix: an error naming the file (exit 2), or the safe result.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from blackfish.errors import UsageError
from blackfish.host import Runner, dns
from tests.conftest import assert_no_traceback, blackfish
from tests.support.hosts import fake_host
from tests.support.pki import make_stack, stack_yaml


@pytest.fixture
def rendered(bf_home, tmp_path):
    """A stack `s` rendered once from tmp_path/nodes.yml; returns its state directory."""
    (tmp_path / "nodes.yml").write_text(stack_yaml())
    first = blackfish("render", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    return bf_home / "s"


def render_again(tmp_path, *args):
    result = blackfish("render", *args, cwd=tmp_path)
    assert_no_traceback(result)
    return result


# --- finding 3: the PKI never replaces a CA except by `certs rotate --ca` ------------------

def test_finding_3_a_truncated_ca_pem_is_an_error_and_the_ca_key_is_kept(rendered, tmp_path):
    ca, ca_key = rendered / "ca.pem", rendered / "ca-key.pem"
    ca.write_bytes(ca.read_bytes()[:200])
    key_before, user_data_before = ca_key.read_bytes(), (rendered / "nodes/s-01.user-data").read_bytes()
    result = render_again(tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"blackfish: error: {ca}: damaged (not a readable PEM certificate); restore it from a "
                                     "backup, or replace the CA with `blackfish certs rotate --ca s`")
    assert ca_key.read_bytes() == key_before
    assert (rendered / "nodes/s-01.user-data").read_bytes() == user_data_before
    rotated = blackfish("certs", "rotate", "--ca", cwd=tmp_path)
    assert rotated.returncode == 0 and "wrote ca.pem" in rotated.stdout, rotated.stderr
    assert ca_key.read_bytes() != key_before


def test_finding_3_a_lost_ca_key_is_an_error_not_a_new_ca(rendered, tmp_path):
    (rendered / "ca-key.pem").unlink()
    ca_before = (rendered / "ca.pem").read_bytes()
    result = render_again(tmp_path)
    assert result.returncode == 2
    assert f"{rendered / 'ca-key.pem'}: missing while its pair is there" in result.stderr
    assert (rendered / "ca.pem").read_bytes() == ca_before and not (rendered / "ca-key.pem").exists()


# --- finding 8: stored secrets pass the same checks as nodes.yml's -------------------------

@pytest.mark.parametrize(("name", "content", "must"), [
    ("consul-key", "", "the base64 of 16 or 32 random bytes"),
    ("registry-secret", "short\n", "at least 16 printable characters"),
])
def test_finding_8_an_emptied_stored_secret_is_an_error(rendered, tmp_path, name, content, must):
    (rendered / "secrets" / name).write_text(content)
    result = render_again(tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"blackfish: error: {rendered / 'secrets' / name}: not a valid {name} (must be {must}); "
                                     "remove the file to have a new one generated")
    assert 'encrypt        = ""' not in (rendered / "nodes/s-01.user-data").read_text()


# --- finding 9: `dns` on macOS touches only the resolver file it wrote ----------------------

def test_finding_9_a_foreign_etc_resolver_file_is_neither_overwritten_nor_removed(tmp_path):
    host = fake_host(tmp_path, platform="darwin")
    mine = host.root / "etc/resolver/s"
    mine.parent.mkdir(parents=True)
    mine.write_text("nameserver 10.0.0.53\n")  # the user's own resolver for a domain named s
    for remove in (False, True):
        with pytest.raises(UsageError, match="exists and was not written by blackfish: it is left alone"):
            dns.plan(make_stack(), host, remove=remove)
    assert mine.read_text() == "nameserver 10.0.0.53\n"
    # What blackfish wrote itself it replaces and removes (run for real, under the fake root).
    mine.unlink()
    runner = Runner(lambda line: None, is_root=True)
    runner.run(dns.plan(make_stack(), host).commands)
    assert mine.read_text() == dns.mac_resolver_file("s", ["10.241.0.11", "10.241.0.12", "10.241.0.13"])
    runner.run(dns.plan(make_stack(), host, remove=True).commands)
    assert not mine.exists()


# --- finding 10: what used to be internal errors ---------------------------------------------

def test_finding_10_a_symlink_under_nodes_is_refused_and_its_target_untouched(rendered, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    key = rendered / "nodes/s-02.key.pem"
    key.unlink()
    key.symlink_to(elsewhere / "key.pem")
    result = render_again(tmp_path)
    assert result.returncode == 2
    assert f"{key} is a symbolic link; blackfish does not follow links in its state directory" in result.stderr
    assert list(elsewhere.iterdir()) == []  # no private key was written through the link


def test_finding_10_a_departed_node_that_is_a_link_loses_the_link_only(rendered, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep").write_text("x")
    (rendered / "nodes/s-09").symlink_to(elsewhere)
    assert render_again(tmp_path).returncode == 0
    assert not (rendered / "nodes/s-09").exists() and (elsewhere / "keep").read_text() == "x"


def test_finding_10_a_templates_path_too_long_for_the_file_system_is_bad_input(bf_home, tmp_path):
    (tmp_path / "nodes.yml").write_text(stack_yaml() + "templates: " + "t" * 4000 + "\n")
    result = render_again(tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("blackfish: error: templates directory ") and "File name too long" in result.stderr


# --- finding 11: state hygiene -------------------------------------------------------------------

WRITER = """
import os, sys, time
from pathlib import Path
from blackfish.state import StateDir
os.replace = lambda *a: time.sleep(600)  # stop between writing the temporary file and renaming it
StateDir("s").write("nodes/s-01.key.pem", b"-----BEGIN PRIVATE KEY-----\\n")
"""


def test_finding_11_kill_9_mid_write_leaves_no_private_key_behind(rendered, tmp_path):
    nodes = rendered / "nodes"
    writer = subprocess.Popen([sys.executable, "-c", WRITER], env=os.environ.copy())
    try:
        deadline = time.monotonic() + 30
        while not (left := list(nodes.glob(".s-01.key.pem.*.tmp"))) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert left, "the writer never wrote its temporary file"
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    finally:
        if writer.poll() is None:
            writer.kill()
    assert list(nodes.glob(".s-01.key.pem.*.tmp")) == left
    assert render_again(tmp_path).returncode == 0
    assert list(nodes.glob(".*.tmp")) == []


def test_finding_11_loosened_modes_are_repaired(rendered, tmp_path):
    os.chmod(rendered / "ca-key.pem", 0o644)
    os.chmod(rendered / "secrets/consul-key", 0o666)
    os.chmod(rendered / "nodes", 0o755)
    os.chmod(rendered / "ca.pem", 0o666)
    assert render_again(tmp_path).returncode == 0
    assert (rendered / "ca-key.pem").stat().st_mode & 0o777 == 0o600
    assert (rendered / "secrets/consul-key").stat().st_mode & 0o777 == 0o600
    assert (rendered / "nodes").stat().st_mode & 0o777 == 0o700
    assert (rendered / "ca.pem").stat().st_mode & 0o777 == 0o644


def test_finding_11_under_umask_000_home_and_lock_are_private(bf_home, tmp_path):
    (tmp_path / "nodes.yml").write_text(stack_yaml())
    result = subprocess.run(["sh", "-c", f"umask 000 && exec {sys.executable} -m blackfish render"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert bf_home.stat().st_mode & 0o777 == 0o700
    assert (bf_home / "s/.lock").stat().st_mode & 0o777 == 0o600
    assert (bf_home / "s/ca-key.pem").stat().st_mode & 0o777 == 0o600
