"""Issue 16, finding 7: Vagrant's insecure SSH key does not stay authorized on a node.

The node's user-data carries drop-vagrant-keys and two units: a oneshot at boot (after
the node's user-data is applied) and a path unit that reruns it whenever
the core user's key files change. Here the rendered script runs in real shells on a key
directory laid out as Flatcar's update-ssh-keys keeps it; the path unit at work in a real
systemd node is tests/cluster/test_least_privilege.py.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support.rendered import files, render_yaml, units, user_data
from tests.unit.render.test_render_scripts import SHELLS, shell_argv

# Vagrant's keys/vagrant.pub.rsa and keys/vagrant.pub.ed25519 (their private halves ship with Vagrant).
VAGRANT_KEYS = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAABIwAAAQEA6NF8iallvQVp22WDkTkyrtvp9eWW6A8YVr+kz4TjGYe7gHzIw+niNltGEFHzD8+v1I2YJ6oXevct1YeS0o9"
    "HZyN1Q9qgCgzUFtdOKLv6IedplqoPkcmF0aYet2PkEDo3MlTBckFXPITAMzF8dJSIFo9D8HfdOV0IAdx4O7PtixWKn5y2hMNG0zQPyUecp4pzC6kivAIhyfHil"
    "FR61RGL+GPXQ2MWZWFYbAGjyiYJnAmCP3NOTd0jMZEnDkbUvxhMmBYSdETk1rRgm+R4LOzFUGaHqHDLKLX+FIPKcF96hrucXzcWyLbIbEgE98OHlnVYCzRdK8"
    "jlqm8tehUc9c9WhQ== vagrant insecure public key",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN1YdxBpNlzxDqfJyw/QKow1F+wvG9hXGoqiysfJOn5Y vagrant insecure public key",
)
STACK = """
    stack: keys
    admin-network: 10.242.0.0/24
    nodes:
      - ip: 10.242.0.41
"""


@pytest.fixture
def node(tmp_path):
    _, state, rendered = render_yaml(STACK, tmp_path)
    doc = user_data(rendered[0])
    stack_key = (state.path / "ssh/id_ed25519.pub").read_text().strip()
    return doc, stack_key


@pytest.mark.parametrize("shell", SHELLS)
def test_finding_7_the_insecure_keys_go_and_the_stacks_key_stays(node, tmp_path, shell):
    doc, stack_key = node
    script = tmp_path / "drop-vagrant-keys"
    script.write_text(files(doc)["/opt/blackfish/bin/drop-vagrant-keys"])
    ssh = tmp_path / "ssh"
    (ssh / "authorized_keys.d").mkdir(parents=True)
    # As Flatcar has it after boot: the OEM's keys and the user-data's, and the merged file.
    (ssh / "authorized_keys.d/oem").write_text("\n".join(VAGRANT_KEYS) + "\n")
    (ssh / "authorized_keys.d/coreos-cloudinit").write_text(stack_key + "\n")
    merged = ssh / "authorized_keys"
    merged.write_text("\n".join([VAGRANT_KEYS[0], stack_key, VAGRANT_KEYS[1]]) + "\n")
    os.chmod(merged, 0o600)
    run = lambda: subprocess.run([*shell_argv(shell), str(script)], env={**os.environ, "SSH_DIR": str(ssh)},
                                 capture_output=True, text=True, timeout=30)
    proc = run()
    assert proc.returncode == 0, proc.stderr
    assert merged.read_text() == stack_key + "\n"
    assert (ssh / "authorized_keys.d/oem").read_text() == ""
    assert (ssh / "authorized_keys.d/coreos-cloudinit").read_text() == stack_key + "\n"
    assert merged.stat().st_mode & 0o777 == 0o600
    assert "removed Vagrant's insecure key" in proc.stderr
    before = merged.stat().st_mtime_ns
    again = run()
    assert again.returncode == 0 and again.stderr == "" and merged.stat().st_mtime_ns == before


def test_finding_7_the_units_run_it_at_boot_and_on_every_change_of_the_keys(node):
    doc, _ = node
    rendered = units(doc)
    assert "ExecStart=/opt/blackfish/bin/drop-vagrant-keys" in rendered["blackfish-ssh-keys.service"]
    assert "Type=oneshot" in rendered["blackfish-ssh-keys.service"]
    path = rendered["blackfish-ssh-keys.path"]
    assert "PathChanged=/home/core/.ssh/authorized_keys\n" in path and "PathModified=/home/core/.ssh/authorized_keys.d\n" in path
    started = [u["name"] for u in doc["coreos"]["units"] if u.get("command") == "start"]
    assert {"blackfish-ssh-keys.service", "blackfish-ssh-keys.path"} <= set(started)
