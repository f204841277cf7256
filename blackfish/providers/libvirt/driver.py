"""Which QEMU driver boots the stack's domains: `kvm` (hardware virtualization) or `qemu`
(software emulation, TCG).

The rule (`libvirt: {driver: auto}`, the default): kvm when /dev/kvm opens read-write AND the
CPU shows hardware virtualization (`vmx` or `svm` in /proc/cpuinfo); otherwise qemu. /dev/kvm
alone is not enough: a machine that is itself a VM may expose /dev/kvm without nested
hardware virtualization. Measured on such a machine (a Firecracker guest, no vmx): a Debian
kernel booted by QEMU with KVM printed "Probing EDD" and hung for good, while TCG booted it to
its root-mount panic in 3 s. nodes.yml's `libvirt: {driver: kvm|qemu}` overrides the rule.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

KVM_DEVICE = Path("/dev/kvm")
CPUINFO = Path("/proc/cpuinfo")
_HW_VIRT = re.compile(r"^flags\s*:.*\b(vmx|svm)\b", re.M)


def kvm_runs(cpuinfo: str, device_usable: bool) -> bool:
    """The rule, on what was read: a usable /dev/kvm and a CPU flag for hardware virtualization."""
    return device_usable and _HW_VIRT.search(cpuinfo) is not None


def detect(device: Path = KVM_DEVICE, cpuinfo: Path = CPUINFO) -> str:
    """`kvm` when KVM guests can run on this machine, else `qemu`."""
    try:
        flags = cpuinfo.read_text(errors="replace")
    except OSError:
        flags = ""
    return "kvm" if kvm_runs(flags, os.access(device, os.R_OK | os.W_OK)) else "qemu"


def choose(setting: str) -> str:
    """The driver for nodes.yml's `libvirt.driver` (auto, kvm or qemu)."""
    return detect() if setting == "auto" else setting
