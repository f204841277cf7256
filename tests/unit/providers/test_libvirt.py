"""The libvirt provider's pure parts: the driver rule, the stack's libvirt names and networks,
and what the Vagrantfile's libvirt block says."""

from __future__ import annotations

import ipaddress

import pytest

from blackfish.providers.libvirt import driver, names
from blackfish.providers.vagrant.vagrantfile import render_vagrantfile
from blackfish.state import StateDir
from tests.support.vagrant import planned, write_nodes

FLAGS_VMX = "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae vmx ssse3\n"
FLAGS_NONE = "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae hypervisor ssse3\n"


def libvirt_stack(tmp_path, extra: str = "", **replace):
    tmp_path.mkdir(parents=True, exist_ok=True)
    text = {"provider: virtualbox": f"provider: libvirt\nbox: acme/debian\n{extra}", **replace}
    return planned(write_nodes(tmp_path, **text))


@pytest.mark.parametrize("flags, device, expected", [
    (FLAGS_VMX, True, True),
    (FLAGS_VMX.replace("vmx", "svm"), True, True),
    # /dev/kvm without hardware virtualization: a VM without nested virtualization (guests hang).
    (FLAGS_NONE, True, False),
    (FLAGS_VMX, False, False),
])
def test_kvm_runs_only_with_the_device_and_hardware_virtualization(flags, device, expected):
    assert driver.kvm_runs(flags, device) is expected


def test_detect_reads_the_device_and_cpuinfo(tmp_path):
    cpuinfo, device = tmp_path / "cpuinfo", tmp_path / "kvm"
    cpuinfo.write_text(FLAGS_VMX)
    assert driver.detect(device, cpuinfo) == "qemu"  # no device
    device.write_text("")
    assert driver.detect(device, cpuinfo) == "kvm"
    cpuinfo.write_text(FLAGS_NONE)
    assert driver.detect(device, cpuinfo) == "qemu"


def test_nodes_yml_overrides_the_rule():
    assert driver.choose("kvm") == "kvm" and driver.choose("qemu") == "qemu"
    assert driver.choose("auto") == driver.detect()


def test_names_follow_the_stack(tmp_path):
    stack = libvirt_stack(tmp_path)
    assert names.domain(stack, "edge") == "vt-edge"
    assert names.volume(stack, "edge") == "vt-edge.img"
    assert names.admin_network(stack) == "blackfish-vt"
    assert names.management_network(stack) == "blackfish-vt_mgmt"


def test_the_management_network_is_stable_per_stack_and_avoids_the_admin_network(tmp_path):
    stack = libvirt_stack(tmp_path)
    first = names.management_address(stack)
    assert first == names.management_address(stack)
    assert ipaddress.ip_network(first).subnet_of(ipaddress.ip_network("192.168.128.0/17"))
    # An admin network on that very /24 pushes the management network elsewhere.
    prefix = first.rsplit(".", 1)[0] + "."  # 192.168.X.
    clash = libvirt_stack(tmp_path / "b", **{"192.168.56.": prefix})
    assert clash.admin_network == first
    assert not ipaddress.ip_network(names.management_address(clash)).overlaps(ipaddress.ip_network(first))


def test_nodes_yml_sets_the_management_network(tmp_path):
    stack = libvirt_stack(tmp_path, "libvirt:\n  management-network: 10.99.0.0/24\n  driver: kvm")
    assert names.management_address(stack) == "10.99.0.0/24"
    assert stack.libvirt_driver == "kvm"


def test_the_libvirt_block_names_domains_networks_and_the_driver(tmp_path):
    stack = libvirt_stack(tmp_path, "libvirt: {driver: qemu}")
    text = render_vagrantfile(stack, StateDir(stack.name, tmp_path / "home"))
    assert text.count("lv.driver = 'qemu'") == 3
    assert text.count('lv.cpu_model = "qemu64"') == 3  # TCG cannot offer the host's CPU model
    assert text.count("lv.default_prefix = 'vt-'") == 3
    assert text.count("lv.management_network_name = 'blackfish-vt_mgmt'") == 3
    assert text.count(f"lv.management_network_address = '{names.management_address(stack)}'") == 3
    assert text.count('lv.management_network_mode = "none"') == 3  # isolated: no NAT
    assert text.count("libvirt__network_name: 'blackfish-vt', libvirt__forward_mode: \"none\", "
                      "libvirt__dhcp_enabled: false") == 3
    kvm = render_vagrantfile(libvirt_stack(tmp_path / "k", "libvirt: {driver: kvm}"), StateDir("vt", tmp_path / "h2"))
    assert kvm.count("lv.driver = 'kvm'") == 3 and "qemu64" not in kvm


def test_provisioning_restarts_the_unit_that_applied_the_old_user_data(tmp_path):
    stack = libvirt_stack(tmp_path)
    text = render_vagrantfile(stack, StateDir(stack.name, tmp_path / "home"))
    # Flatcar's user-cloudinit@<path>.service is a oneshot that stays active (or failed, after
    # an apply that failed): a new file alone changes nothing on a running node.
    assert text.count("unit=user-cloudinit@$(systemd-escape --path $f).service; ") == 3
    assert text.count('if [ \\"$applied\\" != inactive ]; then systemctl restart --no-block $unit; fi') == 3
