"""What libvirt holds of a stack, asked of virsh: its domains, their disks, its networks.

`remains()` is what `destroy` must leave empty; `remove()` takes away what vagrant-libvirt
left behind (a network it kept because a domain was still attached when it looked, a disk of
a domain whose Vagrant record was lost). Only objects with the stack's exact names are ever
touched (names.py), never by prefix.
"""

from __future__ import annotations

import re
import shutil

from blackfish import tools
from blackfish.errors import MissingToolError
from blackfish.model.stack import Stack
from blackfish.providers.libvirt import names

URI = "qemu:///system"  # vagrant-libvirt's connection for the qemu and kvm drivers
POOL = "default"  # vagrant-libvirt's storage pool
VIRSH_HINT = "Install libvirt (Debian/Ubuntu: `apt-get install libvirt-daemon-system libvirt-clients`)"
START_HINT = ("Start libvirt: `systemctl start libvirtd`, or without systemd `virtlogd -d && libvirtd -d` "
              "(scripts/start-libvirtd in a blackfish checkout)")


def virsh_argv(*args: str) -> list[str]:
    return ["virsh", "-q", "-c", URI, *args]


def _virsh(*args: str, check: bool = True):
    if shutil.which("virsh") is None:
        raise MissingToolError("virsh is not installed", hint=VIRSH_HINT)
    return tools.run(virsh_argv(*args), check=check)


def check_answers() -> None:
    """MissingToolError (exit 3) unless libvirt answers at URI."""
    result = _virsh("version", check=False)
    if result.returncode != 0:
        raise MissingToolError(f"libvirt does not answer at {URI}", hint=START_HINT, detail=tools.tail(result.stdout))


def _names(*args: str) -> list[str]:
    result = _virsh(*args, check=False)
    return [line.strip() for line in result.stdout.splitlines() if line.strip()] if result.returncode == 0 else []


def wanted(stack: Stack) -> dict[str, list[str]]:
    """Every libvirt object the stack may own, by kind."""
    return {
        "domain": [names.domain(stack, n.name) for n in stack.nodes],
        "volume": [names.volume(stack, n.name) for n in stack.nodes],
        "network": [names.admin_network(stack), names.management_network(stack)],
    }


def present(stack: Stack) -> dict[str, list[str]]:
    """The stack's objects that exist now, by kind."""
    existing = {
        "domain": set(_names("list", "--all", "--name")),
        "volume": set(_volume_names()),
        "network": set(_names("net-list", "--all", "--name")),
    }
    return {kind: [name for name in names_ if name in existing[kind]] for kind, names_ in wanted(stack).items()}


def remains(stack: Stack) -> list[str]:
    """`domain NAME`, `volume NAME`, `network NAME` for each object of the stack that exists."""
    return [f"{kind} {name}" for kind, found in present(stack).items() for name in found]


def remove(stack: Stack) -> list[str]:
    """Remove what is left of the stack (domains stopped and undefined, disks deleted,
    networks stopped and undefined); returns what it removed."""
    removed = []
    found = present(stack)
    for name in found["domain"]:
        _virsh("destroy", name, check=False)  # stopped already is fine
        _virsh("undefine", name, "--nvram", check=False)
        removed.append(f"domain {name}")
    for name in found["volume"]:
        _virsh("vol-delete", name, "--pool", POOL)
        removed.append(f"volume {name}")
    for name in found["network"]:
        _virsh("net-destroy", name, check=False)  # inactive already is fine
        _virsh("net-undefine", name)
        removed.append(f"network {name}")
    return removed


def network_conflicts(stack: Stack, subnets: dict[str, str]) -> list[str]:
    """Libvirt networks, other than the stack's own, on one of `subnets` ({our name: CIDR}):
    vagrant-libvirt would refuse them (it finds networks by address), so say so first."""
    import ipaddress

    conflicts = []
    ours = set(subnets)
    for name in _names("net-list", "--all", "--name"):
        if name in ours:
            continue
        xml = _virsh("net-dumpxml", name, check=False).stdout
        for address, mask in re.findall(r"<ip\b[^>]*?address='([\d.]+)'[^>]*?(?:netmask|prefix)='([\d.]+)'", xml):
            theirs = ipaddress.ip_network(f"{address}/{mask}", strict=False)
            for our_name, cidr in subnets.items():
                if theirs.overlaps(ipaddress.ip_network(cidr, strict=False)):
                    conflicts.append(f"libvirt network {name!r} ({theirs}) overlaps {our_name} ({cidr})")
    return conflicts


def _volume_names() -> list[str]:
    # `vol-list --name` is not in every virsh; the first column of the table is the name.
    return [line.split()[0] for line in _names("vol-list", POOL)]


def domain_type(name: str) -> str | None:
    """The domain's type (kvm or qemu) from its XML, None when it does not exist."""
    if shutil.which("virsh") is None:
        return None
    result = _virsh("dumpxml", name, check=False)
    found = re.search(r"<domain type='(\w+)'", result.stdout) if result.returncode == 0 else None
    return found[1] if found else None
