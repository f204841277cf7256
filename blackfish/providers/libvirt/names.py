"""What the stack's libvirt objects are called, and the management network's address.

Domains are `<stack>-<node>` (vagrant-libvirt's default would be `vagrant_<node>`, after the
folder of the Vagrantfile, so two stacks with a node of the same name collided). The admin
network is `blackfish-<stack>`, as with the docker provider, and isolated (no NAT). Vagrant
also needs a management network (DHCP, its SSH): `blackfish-<stack>_mgmt`, isolated too, on a
/24 derived from the stack name unless nodes.yml sets `libvirt.management-network`. The `_`
cannot occur in a stack name, so no stack's admin network can take that name.
"""

from __future__ import annotations

import hashlib
import ipaddress

from blackfish.model.stack import Stack

# Where derived management networks live: 192.168.128.0/24 ... 192.168.254.0/24.
_MGMT_FIRST, _MGMT_COUNT = 128, 127


def domain_prefix(stack: Stack) -> str:
    return f"{stack.name}-"


def domain(stack: Stack, node: str) -> str:
    return f"{domain_prefix(stack)}{node}"


def volume(stack: Stack, node: str) -> str:
    """The domain's disk, as vagrant-libvirt names it in the storage pool."""
    return f"{domain(stack, node)}.img"


def admin_network(stack: Stack) -> str:
    return f"blackfish-{stack.name}"


def management_network(stack: Stack) -> str:
    return f"blackfish-{stack.name}_mgmt"


def management_address(stack: Stack) -> str:
    """The management network: nodes.yml's, else a /24 picked by the stack name's hash that
    does not overlap the admin network."""
    if stack.libvirt_management_network:
        return stack.libvirt_management_network
    admin = ipaddress.ip_network(stack.admin_network, strict=False)
    start = int.from_bytes(hashlib.sha256(stack.name.encode()).digest()[:4], "big")
    for step in range(_MGMT_COUNT):
        candidate = ipaddress.ip_network(f"192.168.{_MGMT_FIRST + (start + step) % _MGMT_COUNT}.0/24")
        if not candidate.overlaps(admin):
            return str(candidate)
    raise AssertionError("unreachable: one /24 cannot overlap every other")
