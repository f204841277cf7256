"""The libvirt provider: the Vagrant provider with libvirt's own checks, names and clean-up.

Booting, halting and ssh are Vagrant's (providers/vagrant/); the Vagrantfile's libvirt block
carries the driver (driver.py), the domain names and the two isolated networks (names.py).
Here: libvirt must answer and no foreign network may sit on the stack's subnets before
anything is written; `destroy` removes what vagrant-libvirt leaves; `remains` and `status`
ask libvirt itself (resources.py).
"""

from __future__ import annotations

import ipaddress

from blackfish.errors import UsageError
from blackfish.model.stack import Stack
from blackfish.providers.libvirt import names, resources
from blackfish.providers.vagrant.provider import VagrantProvider
from blackfish.state import StateDir


class LibvirtProvider(VagrantProvider):
    def __init__(self):
        super().__init__("libvirt")

    def check(self, stack: Stack, state: StateDir) -> None:
        host = str(next(ipaddress.ip_network(stack.admin_network, strict=False).hosts()))
        if taken := [n.name for n in stack.nodes if n.ip == host]:
            raise UsageError(f"node {taken[0]} has the address {host}, which libvirt gives this host on the "
                             "admin network; choose another ip in nodes.yml")
        resources.check_answers()
        conflicts = resources.network_conflicts(stack, {
            names.admin_network(stack): stack.admin_network,
            names.management_network(stack): names.management_address(stack),
        })
        if conflicts:
            raise UsageError(f"stack {stack.name!r}: {'; '.join(conflicts)}; choose another admin-network "
                             "or libvirt.management-network in nodes.yml, or remove that network")
        super().check(stack, state)

    def status(self, stack: Stack, state: StateDir) -> list[dict]:
        rows = super().status(stack, state)
        for row in rows:
            domain = names.domain(stack, row["node"])
            row["domain"] = domain
            # What libvirt runs, not what was asked: `qemu` is software emulation (TCG).
            row["driver"] = resources.domain_type(domain) or ""
        return rows

    def destroy(self, stack: Stack, state: StateDir) -> list[str]:
        before = resources.remains(stack)
        removed = super().destroy(stack, state)
        resources.remove(stack)  # what vagrant-libvirt left behind
        after = set(resources.remains(stack))
        return removed + [thing for thing in before if thing not in after]

    def remains(self, stack: Stack, state: StateDir) -> list[str]:
        return super().remains(stack, state) + resources.remains(stack)
