"""A node container with a real systemd (and dockerd under it), for tests of what runs on a node.

    with systemd_node("applywait", "10.244.19.11") as (container, target):
        target.put(...); target.run(("systemctl", ...))

The default node image, booted with the docker provider's own container options, on the
host's default bridge (no stack network); its container and its named volume are removed
afterwards. `target` is the provider's NodeTarget: the way user-data reaches a node.
"""

from __future__ import annotations

import contextlib
import subprocess

import docker

from blackfish.model.config import parse
from blackfish.model.stack import plan
from blackfish.providers.docker import node as docker_node
from tests.conftest import needs_docker
from tests.support.cluster import node_image


@contextlib.contextmanager
def systemd_node(stack_name: str, ip: str):
    needs_docker()
    client = docker.from_env()
    network = ip.rsplit(".", 1)[0] + ".0/24"
    stack = plan(parse(f"stack: {stack_name}\nprovider: docker\nadmin-network: {network}\nnodes:\n  - ip: {ip}\n").config)
    options = docker_node.container_options(
        stack, stack.nodes[0], node_image(), privileged=False, cgroup_version=int(client.info().get("CgroupVersion") or 1),
        capabilities=docker_node.host_capabilities())
    options.update(name=f"blackfish-test-{stack_name}", network=None)
    with contextlib.suppress(docker.errors.NotFound):
        client.containers.get(options["name"]).remove(force=True)  # left by an interrupted run
    container = client.containers.run(**options)
    try:
        target = docker_node.NodeTarget(container, stack.nodes[0].name)
        target.wait_for_systemd()
        yield container, target
    finally:
        container.remove(force=True)
        client.volumes.get(docker_node.volume_name(stack, stack.nodes[0])).remove()


def sh(container, script: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`sh -c script` in the node, as root."""
    return subprocess.run(["docker", "exec", container.name, "sh", "-c", script], capture_output=True, text=True,
                          timeout=timeout)
