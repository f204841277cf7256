"""What boots nodes. Every provider implements the same small protocol; `get()` maps a
provider name from nodes.yml (or --provider) to its implementation.

Vagrant providers (virtualbox, parallels, libvirt, vmware_desktop, hyperv) share one
implementation in vagrant.py; `docker` boots each node as a local container (docker.py).
"""

from __future__ import annotations

from typing import Protocol

from blackfish.model.config import PROVIDERS, VAGRANT_PROVIDERS
from blackfish.errors import UsageError
from blackfish.model.stack import Stack
from blackfish.state import StateDir

# The one state word every provider shares: the node does not exist (anything else means it does).
NOT_CREATED = "not_created"


class Provider(Protocol):
    # Optional (blackfish.lifecycle calls it when present):
    # def check(self, stack, state, progress=None) -> None:
    #     """Raise MissingToolError (exit 3) when this machine cannot boot the stack; runs
    #     before anything is rendered and must not write in the state directory."""

    def up(self, stack: Stack, state: StateDir, *, parallel: int = 1, provision: bool = False, progress=None) -> None:
        """Boot every node (create, start or re-provision) with its rendered user-data,
        and return when the provider's own work is done. `progress(node, phase)`, when
        given, hears each node's phase as it changes (any thread)."""

    def status(self, stack: Stack, state: StateDir) -> list[dict]:
        """One dict per node: at least `node`, `ip`, `roles`, `state` (`not_created` when the
        node does not exist); further keys become further columns of `blackfish status`."""

    def halt(self, stack: Stack, state: StateDir) -> None:
        """Stop every node, keeping its disks, so a later `up` brings the same nodes back."""

    def destroy(self, stack: Stack, state: StateDir) -> None:
        """Remove every node and what the provider made for them (the PKI stays)."""

    def ssh_argv(self, stack: Stack, state: StateDir, node: str, command: list[str]) -> list[str]:
        """The command line that opens a shell (or runs `command`) on a node."""


def get(name: str) -> Provider:
    if name == "docker":
        from blackfish.providers.docker.provider import DockerProvider

        return DockerProvider()
    if name == "libvirt":
        from blackfish.providers.libvirt.provider import LibvirtProvider

        return LibvirtProvider()
    if name in VAGRANT_PROVIDERS:
        from blackfish.providers.vagrant.provider import VagrantProvider

        return VagrantProvider(name)
    raise UsageError(f"unknown provider {name!r}; expected one of: {', '.join(PROVIDERS)}")
