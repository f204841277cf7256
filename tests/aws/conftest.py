"""Fixtures for the AWS tests: one moto server (real HTTP, real boto3) for the session,
reset before each test; a VPC and subnet; Flatcar-named images; a nodes.yml for provider aws.

No test here boots anything or dials a node: moto only records what was asked. The commands
run with `up --no-wait`, and no proxy, readiness or check command is run against these
stacks (their private addresses are not ours, their public ones are fake).
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from tests.conftest import needs
from tests.support import motoserver as moto

SUBNET_CIDR = "10.77.1.0/24"


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    needs(moto.moto_server_binary() is not None, "moto_server is not installed (pip install 'moto[server]')")
    server = moto.MotoServer(tmp_path_factory.mktemp("moto") / "moto.log").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_server, monkeypatch, bf_home) -> dict[str, str]:
    """A fresh moto account, and this process's and the CLI's environment pointed at it."""
    moto_server.reset()
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    env = moto_server.env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # No ~/.aws of this machine's user leaks in.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(bf_home.parent / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(bf_home.parent / "no-aws-credentials"))
    return env


@pytest.fixture
def ec2(aws_env):
    import boto3

    return boto3.client("ec2", region_name=moto.REGION)


@pytest.fixture
def subnet(ec2) -> dict:
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    return ec2.create_subnet(VpcId=vpc, CidrBlock=SUBNET_CIDR)["Subnet"]


_SOURCES: dict[str, str] = {}


def flatcar_image(ec2, name: str, arch: str) -> str:
    """A Flatcar-named image in Flatcar's account (the server runs as it), of an architecture.

    moto's register_image drops the architecture, so the image is copied from one of moto's
    built-in images of that architecture (the same ids after every reset), under the Flatcar name."""
    if arch not in _SOURCES:
        images = ec2.describe_images(Filters=[{"Name": "architecture", "Values": [arch]}])["Images"]
        _SOURCES[arch] = images[0]["ImageId"]
    return ec2.copy_image(SourceImageId=_SOURCES[arch], SourceRegion=moto.REGION, Name=name)["ImageId"]


@pytest.fixture
def flatcar(ec2) -> dict[str, str]:
    """Flatcar images: stable for x86_64 and arm64 (an older and a newer x86_64), a beta."""
    return {
        "old": flatcar_image(ec2, "Flatcar-stable-4081.2.0-hvm", "x86_64"),
        "x86_64": flatcar_image(ec2, "Flatcar-stable-4230.2.1-hvm", "x86_64"),
        "arm64": flatcar_image(ec2, "Flatcar-stable-4230.2.1-hvm", "arm64"),
        "beta": flatcar_image(ec2, "Flatcar-beta-4286.1.0-hvm", "x86_64"),
    }


NODES = """
    stack: ec2lab
    provider: aws
    region: eu-west-1
    subnet-id: {subnet}
    admin-network: {cidr}
    instance-type: t3.medium
    s3bucket: cloud-registry-store
    operator-cidr: 203.0.113.0/28
    lb-public-ports: [80]
    nodes:
      - ip: 10.77.1.11
        docker-registry: true
      - ip: 10.77.1.12
        docker-registry: true
      - ip: 10.77.1.13
        lb: true
        instance-type: t4g.medium
"""


def write_nodes(tmp_path: Path, subnet: dict, text: str = NODES, **changes) -> Path:
    body = textwrap.dedent(text).format(subnet=subnet["SubnetId"], cidr=changes.pop("cidr", subnet["CidrBlock"]))
    path = tmp_path / "nodes.yml"
    path.write_text(body)
    return path


@pytest.fixture
def nodes_yml(tmp_path, subnet, flatcar) -> Path:
    return write_nodes(tmp_path, subnet)
