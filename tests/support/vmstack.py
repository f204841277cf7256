"""A libvirt stack of real VMs for the VM tests and the libvirt benchmark: its nodes.yml (the
blackfish libvirt test box, a free admin and management subnet), and a ClusterStack (the
real CLI, a private BLACKFISH_HOME) that runs vagrant with the shared VAGRANT_HOME. Run
under the shared lock."""

from __future__ import annotations

import os
import time

from blackfish.model.stack import Stack
from blackfish.providers.libvirt import resources
from tests.support.cluster import ClusterStack
from tests.support.libvirt import free_subnets, vagrant_env
from tests.support.vagrant import planned

UP_TIMEOUT = 1800
READY_TIMEOUT = 900


def nodes_yml(name: str, box: str, nodes: tuple[str, ...], registry: str | None = None, haproxy: str | None = None) -> str:
    """A libvirt stack: one node per name, 1 vCPU and 1 GiB each, on two free /24s; with a
    registry image, the first node runs the registry from it (and its TLS front from the
    haproxy image)."""
    admin, mgmt = free_subnets(2)
    prefix = admin.rsplit(".", 1)[0]
    listed = "".join(f"  - {{name: {node}, ip: {prefix}.{11 + i}, memory: 1024, cpus: 1"
                     f"{', docker-registry: true' if registry and i == 0 else ''}}}\n" for i, node in enumerate(nodes))
    images = "".join(f"  {service}: {image}\n" for service, image in (("registry", registry), ("haproxy", haproxy)) if image)
    images = f"images:\n{images}" if images else ""
    return (f"stack: {name}\nprovider: libvirt\nbox: {box}\nadmin-network: {admin}\n"
            f"libvirt:\n  management-network: {mgmt}\n{images}nodes:\n{listed}")


class VmStack(ClusterStack):
    def __init__(self, name, workdir, nodes_yml_text: str):
        super().__init__(name, workdir, nodes_yml_text)
        # What vagrant_env() sets on top of this environment: the shared VAGRANT_HOME, no update checks.
        self.env.update({key: value for key, value in vagrant_env().items() if os.environ.get(key) != value})
        # Under TCG on 2 shared cores a 3-manager swarm forms in 1-10 minutes (docs/libvirt.md).
        self.env["BLACKFISH_UP_TIMEOUT"] = str(READY_TIMEOUT)

    def plan(self) -> Stack:
        return planned(self.nodes_file)

    def remove_leftovers(self) -> None:
        """What an interrupted earlier run left in libvirt under this stack's (fixed) names."""
        resources.remove(self.plan())

    def up(self, *extra: str) -> float:
        """`blackfish up --parallel 2`; the seconds it took. What it reported per step and node
        (stderr) is kept in `up_report`."""
        started = time.monotonic()
        self.up_report = self.run_ok("up", self.name, "--parallel", "2", *extra, timeout=UP_TIMEOUT).stderr
        return time.monotonic() - started

    def diagnose(self, nodes: tuple[str, ...]) -> str:
        """What a failed run needs to be understood: each node's docker and user-data units."""
        report = []
        for node in nodes:
            ran = self.cli("ssh", self.name, node, "--",
                           "sudo systemctl --no-pager --failed; sudo systemctl --no-pager status docker "
                           "'flatcar-vagrant*' 'user-cloudinit*' | tail -n 40; sudo ss -ltnp; "
                           "sudo journalctl --no-pager -b -n 60 -u docker", timeout=120)
            report.append(f"--- {node} (exit {ran.returncode})\n{ran.stdout[-6000:]}{ran.stderr[-2000:]}")
        return "\n".join(report)

