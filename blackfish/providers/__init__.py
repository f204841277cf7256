"""What boots nodes. Every provider implements the contract in base.py; `get()` maps a
provider name from nodes.yml (or --provider) to its implementation.

Vagrant providers (virtualbox, parallels, libvirt, vmware_desktop, hyperv) share one
implementation in vagrant/; `docker` boots each node as a local container (docker/).
"""

from __future__ import annotations

from blackfish.errors import UsageError
from blackfish.model.config import PROVIDERS, VAGRANT_PROVIDERS
from blackfish.providers.base import NOT_CREATED, Provider

__all__ = ["NOT_CREATED", "Provider", "get"]


def get(name: str) -> Provider:
    if name == "docker":
        from blackfish.providers.docker.provider import DockerProvider

        return DockerProvider()
    if name == "aws":
        from blackfish.providers.aws.provider import AwsProvider

        return AwsProvider()
    if name == "libvirt":
        from blackfish.providers.libvirt.provider import LibvirtProvider

        return LibvirtProvider()
    if name in VAGRANT_PROVIDERS:
        from blackfish.providers.vagrant.provider import VagrantProvider

        return VagrantProvider(name)
    raise UsageError(f"unknown provider {name!r}; expected one of: {', '.join(PROVIDERS)}")
