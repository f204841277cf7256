"""Waiting for a node's apply of its new user-data after `vagrant provision`
(providers/vagrant/apply_wait.py), against a real systemd: the node image booted as the docker
provider boots it, with a user-cloudinit@<path>.service that behaves like the boxes' (a oneshot
that stays active), restarted the way the Vagrantfile's provisioner queues it."""

from __future__ import annotations

import time

import pytest

from blackfish.errors import ProviderError
from blackfish.providers.vagrant import apply_wait
from blackfish.render.cloudinit import Entry
from tests.support.systemd_node import sh, systemd_node

pytestmark = pytest.mark.integration

USER_DATA_DIR = "/var/lib/flatcar-vagrant"
# Each run appends what it read (the user-data) to a log, after a pause long enough for the
# wait to have to wait; it fails when the user-data says so.
UNIT = """\
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'sleep 3; cat %f >> /run/applied; ! grep -q fail %f'
"""
UNIT_NAME = "user-cloudinit@var-lib-flatcar\\x2dvagrant-vagrantfile\\x2duser\\x2ddata.service"


@pytest.fixture(scope="module")
def node():
    with systemd_node("applywait", "10.244.19.11") as (container, target):
        target.put((Entry(f"{USER_DATA_DIR}/vagrantfile-user-data", b"first\n", 0o600),
                    Entry("/etc/systemd/system/user-cloudinit@.service", UNIT.encode(), 0o644)))
        assert sh(container, f"systemctl daemon-reload && systemctl start '{UNIT_NAME}'").returncode == 0
        yield container


def provision(container, content: str) -> None:
    """What the Vagrantfile's provisioner does on a node that had applied a user-data before."""
    sh(container, f"echo {content} > {USER_DATA_DIR}/vagrantfile-user-data; systemctl restart --no-block '{UNIT_NAME}'")


def wait(container, lines: list[str]) -> None:
    argv = ["docker", "exec", container.name, "sh", "-c", apply_wait.wait_script(USER_DATA_DIR)]
    apply_wait.wait_for_apply("n1", argv, lines.append)


def test_it_returns_once_the_queued_apply_has_run(node):
    provision(node, "second")
    started = time.monotonic()
    wait(node, [])
    assert time.monotonic() - started >= 2  # it did wait for the apply
    assert sh(node, "cat /run/applied").stdout.split()[-1] == "second"
    assert sh(node, f"systemctl is-active '{UNIT_NAME}'").stdout.strip() == "active"


def test_a_failed_apply_is_an_error_with_the_units_journal(node):
    provision(node, "fail")
    lines = []
    with pytest.raises(ProviderError) as raised:
        wait(node, lines)
    assert raised.value.message == "n1: its new user-data did not apply"
    assert "is failed after applying the new user-data" in raised.value.detail
    assert any("is failed" in line for line in lines)
    provision(node, "third")  # a failed unit is restarted too
    wait(node, [])
    assert sh(node, "cat /run/applied").stdout.split()[-1] == "third"


def test_a_dropped_connection_is_tried_again(tmp_path):
    # ssh exits 255 when its connection drops: the first two attempts, here; the third answers.
    tries = tmp_path / "tries"
    argv = ["sh", "-c", f'echo x >> {tries}; [ "$(wc -l < {tries})" -ge 3 ] || exit 255; echo applied']
    lines = []
    apply_wait.wait_for_apply("n1", argv, lines.append)
    assert tries.read_text().count("x") == 3 and lines == ["    n1: applied"]
    always = ["sh", "-c", "echo Connection closed by 10.244.19.11 port 22; exit 255"]
    with pytest.raises(ProviderError, match="could not reach it over SSH"):
        apply_wait.wait_for_apply("n1", always, [].append)
