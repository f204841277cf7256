"""Fixtures of the cluster tests: a booted docker-provider stack shared by a module's tests.

Address plan: the cluster tests own 10.244.0.0/16, one /24 per test stack (so tests never
collide), each stack with its own name.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import docker_engine_answers, needs
from tests.support.cluster import ClusterStack, has_image, node_image


@pytest.fixture(scope="session")
def built_node_image() -> str:
    """The default node image, built offline (root and debootstrap) when the engine lacks it."""
    from blackfish.providers.docker.image import DEFAULT_IMAGE

    needs(docker_engine_answers(), "no docker engine answers (scripts/start-dockerd starts one as root)")
    if not has_image(DEFAULT_IMAGE):
        needs(os.geteuid() == 0 and shutil.which("debootstrap") is not None,
              f"{DEFAULT_IMAGE} is missing, and building it offline needs root and debootstrap "
              "(apt-get install debootstrap)")
    return node_image()


@pytest.fixture(scope="module")
def make_stack(tmp_path_factory, built_node_image):
    """make_stack(name, nodes_yml) -> a ClusterStack, destroyed when the module ends."""
    stacks: list[ClusterStack] = []

    def make(name: str, nodes_yml: str) -> ClusterStack:
        stack = ClusterStack(name, tmp_path_factory.mktemp(name), nodes_yml)
        stack.remove_leftovers()
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.destroy()
        stack.remove_leftovers()


@pytest.fixture(scope="module")
def booted_with_services(make_stack):
    """booted_with_services(name, nodes_yml) -> a booted stack whose engines have busybox, the
    registry and haproxy (none can be pulled here); nodes_yml's {registry} and {haproxy} are
    filled with those images' names."""
    from tests.support.cluster import registry_image
    from tests.support.images import busybox_image
    from tests.support.service_images import haproxy_image

    def boot(name: str, nodes_yml: str) -> ClusterStack:
        busybox, registry, haproxy = busybox_image(), registry_image(), haproxy_image()
        stack = make_stack(name, nodes_yml.format(registry=registry, haproxy=haproxy))
        stack.up()
        stack.ok("load", name, busybox, registry, haproxy)
        return stack

    return boot
