"""The blackfish libvirt test box, booted as a real VM by the real vagrant and vagrant-libvirt.

One VM (domain type qemu: KVM guests hang on the test machines) on two libvirt networks the
test names and removes: Vagrant's management network (DHCP, isolated) and a private network
with a fixed address, the way blackfish's admin network is given to a node. The user-data
travels like blackfish's Vagrantfile sends it (file provisioner, then a rename into
/var/lib/flatcar-vagrant/), and the box's Flatcar-style path unit applies it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.libvirt import Scope, ensure_box, free_subnets, needs_libvirt, vagrant, vagrant_env, vagrantfile

pytestmark = pytest.mark.integration

USER_DATA_DIR = "/var/lib/flatcar-vagrant"
APPLY_UNIT = f'"user-cloudinit@$(systemd-escape --path {USER_DATA_DIR}/vagrantfile-user-data).service"'

# What blackfish's Vagrantfile gives a node: a fixed address on an isolated network, and the
# user-data sent by a file provisioner, then renamed into place.
NODE = """\
    node.vm.network "private_network", ip: "{ip}", netmask: "255.255.255.0",
      libvirt__network_name: "{prefix}admin", libvirt__forward_mode: "none", libvirt__dhcp_enabled: false
    node.vm.provision "user-data", type: "file", source: "user-data", destination: "/tmp/vagrantfile-user-data"
    node.vm.provision "apply-user-data", type: "shell", privileged: true,
      inline: "set -e; mkdir -p {dir}; install -m 0600 /tmp/vagrantfile-user-data {dir}/.new; " \\
              "mv -f {dir}/.new {dir}/vagrantfile-user-data; rm -f /tmp/vagrantfile-user-data"
"""

# A write_files entry and a unit that reads it: the unit's output shows which version ran.
USER_DATA = """\
#cloud-config
write_files:
  - path: /etc/box-test/greeting
    permissions: "0640"
    content: |
      {greeting}
coreos:
  units:
    - name: box-test.service
      command: restart
      content: |
        [Service]
        Type=oneshot
        RemainAfterExit=yes
        ExecStart=/bin/sh -c 'cat /etc/box-test/greeting > /run/box-test.out'
"""


@pytest.fixture(scope="module")
def box():
    needs_libvirt()
    started = time.monotonic()
    found = ensure_box()
    print(f"\nlibvirt test box {found.name}: ready in {time.monotonic() - started:.1f} s ({found.path})")
    return found


@pytest.fixture
def scope():
    with Scope("bfbox") as s:
        yield s


def ssh(config: Path, command: str, check: bool = True) -> str:
    proc = subprocess.run(["ssh", "-F", str(config), "n1", command], capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, f"{command}: {proc.stdout}{proc.stderr}"
    return proc.stdout


def wait_for(config: Path, command: str, expected: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    out = ""
    while time.monotonic() < deadline:
        out = ssh(config, command, check=False).strip()
        if out == expected:
            return out
        time.sleep(1)
    return out


def test_box_boots_as_a_vm_with_flatcars_vagrant_contract(box, scope, tmp_path):
    mgmt, admin = free_subnets(2)
    ip = str(ipaddress.ip_network(admin)[11])
    project = tmp_path / "project"
    project.mkdir()
    body = NODE.format(ip=ip, prefix=scope.prefix, dir=USER_DATA_DIR)
    (project / "Vagrantfile").write_text(vagrantfile(box.name, scope.prefix, mgmt, node="n1", body=body))
    (project / "user-data").write_text(USER_DATA.format(greeting="hello v1"))

    up, marks = timed_vagrant_up(project)
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    print(f"\none VM, seconds after `vagrant up` started: domain started {marks['Starting domain']:.1f}, "
          f"SSH ready {marks['Machine booted and ready']:.1f}, networks set and user-data sent {marks['done']:.1f}")
    assert scope.domains() == [f"{scope.prefix}n1"]
    assert virsh_domain_type(f"{scope.prefix}n1") == "qemu"

    config = tmp_path / "ssh-config"
    ssh_config = vagrant("ssh-config", "n1", cwd=project)
    assert ssh_config.returncode == 0, ssh_config.stderr
    config.write_text(ssh_config.stdout)

    # Vagrant's login user, with passwordless sudo.
    assert ssh(config, "id -un; sudo -n id -un").split() == ["core", "root"]

    # Its own machine id, made at first boot from the box's empty one.
    machine_id = ssh(config, "cat /etc/machine-id").strip()
    assert re.fullmatch(r"[0-9a-f]{32}", machine_id) and machine_id != "0" * 32, machine_id

    # Vagrant's private interface has Vagrant's address (the box's own rule does not shadow
    # it), and this host reaches the VM's SSH there.
    assert f"inet {ip}/24" in ssh(config, "ip -4 -o addr show dev eth1")
    with socket.create_connection((ip, 22), timeout=10) as conn:
        assert conn.recv(64).startswith(b"SSH-2.0-")

    # The path unit applied the user-data Vagrant dropped: the file and the unit's output.
    assert wait_for(config, "cat /run/box-test.out", "hello v1") == "hello v1"
    assert ssh(config, "sudo stat -c '%a %U' /etc/box-test/greeting").strip() == "640 root"
    applied = ssh(config, "sudo cat /var/lib/blackfish/applied-user-data.sha256").strip()
    assert applied == hashlib.sha256((project / "user-data").read_bytes()).hexdigest()

    # A changed user-data on the running node: re-provision, then restart the oneshot unit.
    (project / "user-data").write_text(USER_DATA.format(greeting="hello v2"))
    provision = vagrant("provision", "n1", cwd=project)
    assert provision.returncode == 0, provision.stdout[-3000:] + provision.stderr[-3000:]
    ssh(config, f"sudo systemctl restart {APPLY_UNIT}")
    assert ssh(config, "cat /run/box-test.out").strip() == "hello v2"
    assert ssh(config, "sudo cat /etc/box-test/greeting").strip() == "hello v2"

    destroy = vagrant("destroy", "--force", cwd=project)
    assert destroy.returncode == 0, destroy.stdout[-3000:] + destroy.stderr[-3000:]
    assert scope.domains() == [] and scope.volumes() == []
    scope.remove()
    assert scope.remains() == []


def timed_vagrant_up(project: Path) -> tuple[subprocess.CompletedProcess, dict[str, float]]:
    """`vagrant up`, with the seconds at which it printed each milestone (and finished)."""
    marks: dict[str, float] = {}
    started = time.monotonic()
    with subprocess.Popen(["vagrant", "up", "--provider", "libvirt"], cwd=project, env=vagrant_env(VAGRANT_CWD=str(project)),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            for milestone in ("Starting domain", "Machine booted and ready"):
                if milestone in line:
                    marks.setdefault(milestone, time.monotonic() - started)
    marks["done"] = time.monotonic() - started
    return subprocess.CompletedProcess(proc.args, proc.returncode, "".join(lines), ""), marks


def virsh_domain_type(domain: str) -> str:
    xml = subprocess.run(["virsh", "-c", "qemu:///system", "dumpxml", domain], capture_output=True, text=True,
                         check=True).stdout
    return re.search(r"<domain type='(\w+)'", xml).group(1)
