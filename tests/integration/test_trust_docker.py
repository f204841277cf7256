"""`certs install --only docker`: the host's dockerd pulls from the stack's registry (a real
distribution registry serving the registry node's certificate) only while certs.d trusts the CA."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import assert_no_traceback, blackfish, needs, needs_docker
from tests.support.cluster import REGISTRY_BASE_IMAGE
from tests.support.images import busybox_image, debian_image
from tests.support.pki import stack_yaml

pytestmark = pytest.mark.integration

STACK = "bftdock"
SUBNET = "10.245.0.0/24"  # this test's address range
REGISTRY_IP = "10.245.0.10"
NETWORK = "bf-trust-docker"
CONTAINER = "bf-trust-registry"
CERTS_D = Path("/etc/docker/certs.d")
IMAGE = f"{REGISTRY_IP}:5000/bftrust/busybox:1"
REGISTRY_CONFIG = """\
version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/docker-registry
http:
  addr: :5000
  tls:
    certificate: /certs/cert.pem
    key: /certs/key.pem
"""


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {proc.stderr}")
    return proc


def our_files() -> list[Path]:
    return sorted(CERTS_D.glob(f"*/blackfish-{STACK}.crt"))


@pytest.fixture
def registry(bf_home, tmp_path):
    """The stack's registry node: a container at REGISTRY_IP serving its node certificate."""
    needs(os.geteuid() == 0, "needs root: the test writes /etc/docker/certs.d")
    needs_docker()
    image = debian_image(REGISTRY_BASE_IMAGE, ["docker-registry"])
    (tmp_path / "nodes.yml").write_text(stack_yaml(STACK, SUBNET, (REGISTRY_IP,)))
    (tmp_path / "config.yml").write_text(REGISTRY_CONFIG)
    node = bf_home / STACK / "nodes" / f"{STACK}-01"  # .cert.pem, .key.pem
    certs_d_existed = CERTS_D.exists()
    docker("network", "rm", NETWORK, check=False)
    docker("network", "create", "--subnet", SUBNET, NETWORK)
    try:
        # The PKI (and the node certificate the registry serves) comes from certs install itself.
        first = blackfish("certs", "install", "--only", "docker", cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        docker("run", "-d", "--name", CONTAINER, "--network", NETWORK, "--ip", REGISTRY_IP,
               "-v", f"{node}.cert.pem:/certs/cert.pem:ro", "-v", f"{node}.key.pem:/certs/key.pem:ro",
               "-v", f"{tmp_path / 'config.yml'}:/etc/docker/registry/config.yml:ro",
               image, "docker-registry", "serve", "/etc/docker/registry/config.yml")
        ca = bf_home / STACK / "ca.pem"
        for _ in range(100):
            if subprocess.run(["curl", "-sf", "--cacert", str(ca), f"https://{REGISTRY_IP}:5000/v2/"],
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"the registry did not answer: {docker('logs', CONTAINER, check=False).stderr}")
        yield tmp_path
    finally:
        docker("rm", "-f", CONTAINER, check=False)
        docker("network", "rm", NETWORK, check=False)
        docker("rmi", IMAGE, check=False)
        for path in our_files():  # whatever the test left behind
            path.unlink()
            if not any(path.parent.iterdir()):
                path.parent.rmdir()
        if not certs_d_existed and CERTS_D.is_dir() and not any(CERTS_D.iterdir()):
            CERTS_D.rmdir()


def test_dockerd_pulls_from_the_stack_registry_only_while_trusted(registry):
    cwd = registry
    assert {p.parent.name for p in our_files()} == {f"registry.service.{STACK}:5000", f"{REGISTRY_IP}:5000"}
    docker("tag", busybox_image(), IMAGE)
    docker("push", IMAGE)

    removed = blackfish("certs", "uninstall", "--only", "docker", cwd=cwd)
    assert removed.returncode == 0, removed.stderr
    assert f"rm -f {CERTS_D}/{REGISTRY_IP}:5000/blackfish-{STACK}.crt\nrmdir {CERTS_D}/{REGISTRY_IP}:5000\n" in removed.stdout
    assert our_files() == []
    assert not (CERTS_D / f"{REGISTRY_IP}:5000").exists()
    docker("rmi", IMAGE)
    refused = docker("pull", IMAGE, check=False)
    assert refused.returncode != 0
    assert "x509: certificate signed by unknown authority" in refused.stderr, refused.stderr

    installed = blackfish("certs", "install", "--only", "docker", cwd=cwd)
    assert installed.returncode == 0, installed.stderr
    assert_no_traceback(installed)
    pulled = docker("pull", IMAGE, check=False)
    assert pulled.returncode == 0, pulled.stderr
    assert docker("run", "--rm", IMAGE, "echo", "pulled over TLS").stdout.strip() == "pulled over TLS"


def test_uninstall_leaves_other_files_in_certs_d_alone(registry):
    """A ca.crt the user put next to ours survives uninstall, and so does its directory."""
    theirs = CERTS_D / f"{REGISTRY_IP}:5000" / "ca.crt"
    theirs.write_text("not ours\n")
    try:
        removed = blackfish("certs", "uninstall", STACK, "--only", "docker", cwd=registry)
        assert removed.returncode == 0, removed.stderr
        assert theirs.read_text() == "not ours\n"
        assert our_files() == []
        assert not (CERTS_D / f"registry.service.{STACK}:5000").exists()
    finally:  # the registry fixture then removes our files, and the directory once empty
        theirs.unlink(missing_ok=True)
        if theirs.parent.is_dir() and not any(theirs.parent.iterdir()):
            theirs.parent.rmdir()
