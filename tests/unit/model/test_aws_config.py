"""nodes.yml keys of provider aws: each value checked with a full match, the secret refused,
problems reported with their place; the settings survive stack.json."""

from __future__ import annotations


import pytest

from blackfish.errors import ConfigError
from blackfish.model import config
from blackfish.model.stack import Stack, plan
from tests.conftest import blackfish

GOOD = """\
stack: ec2lab
provider: aws
region: eu-west-1
profile: work
access-key-id: AKIAIOSFODNN7EXAMPLE
availability-zone: eu-west-1a
subnet-id: subnet-0123456789abcdef0
admin-network: 10.0.1.0/24
instance-type: t3.medium
ebs-optimized: true
keypair-name: ops-key
security-groups: [sg-0123456789abcdef0]
s3bucket: cloud-registry
s3-endpoint: https://s3.eu-west-1.amazonaws.com
operator-cidr: 198.51.100.0/24
lb-public-ports: [80, 443]
box: beta
nodes:
  - ip: 10.0.1.10
    instance-type: m7g.large
  - ip: 10.0.1.11
    availability-zone: eu-west-1a
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config.parse(text)
    return info.value.lines()


def test_the_seeds_keys_decode_and_survive_the_stack_record():
    stack = plan(config.parse(GOOD).config)
    assert stack.aws.region == "eu-west-1" and stack.aws.subnet_id == "subnet-0123456789abcdef0"
    assert stack.aws.instance_type_of("ec2lab-01") == "m7g.large"
    assert stack.aws.instance_type_of("ec2lab-02") == "t3.medium"
    assert stack.aws.lb_public_ports == (80, 443)
    assert Stack.from_record(stack.to_record()).aws == stack.aws


def test_secret_access_key_is_refused_with_its_place(tmp_path, bf_home):
    path = tmp_path / "nodes.yml"
    path.write_text(GOOD.replace("profile: work\n", "profile: work\nsecret-access-key: wJalrXUtnFEMI/K7MDENG\n"))
    result = blackfish("validate", "-f", str(path))
    assert result.returncode == 2
    assert f"{path}:5:1: secret-access-key: a secret never goes into nodes.yml" in result.stderr
    assert "wJalrXUtnFEMI" not in result.stderr + result.stdout


@pytest.mark.parametrize("key, value, why", [
    ("region", "eu-west-1; rm", "is not an AWS region"),
    ("region", "EU-WEST-1", "is not an AWS region"),
    ("access-key-id", "AKIAIOSFODNN7EXAMPLEX", "is not an access key id"),
    ("availability-zone", "eu-west-1", "is not an availability zone"),
    ("subnet-id", "subnet-0123456789abcdef0 ", "is not a subnet id"),
    ("instance-type", "t3", "is not an EC2 instance type"),
    ("keypair-name", "my key", "is not an EC2 key pair name"),
    ("s3bucket", "Bucket_Name", "is not an S3 bucket name"),
    ("s3bucket", "a..b", "is not an S3 bucket name"),
    ("s3-endpoint", "ftp://store", "is not an http(s)://HOST[:PORT] URL"),
    ("operator-cidr", "0.0.0.0/0", "would open the engines and SSH to the whole internet"),
    ("operator-cidr", "10.0.0.1/8", "not a network in CIDR form"),
    ("box", "flatcar-nightly", "is not a Flatcar channel"),
])
def test_each_aws_value_must_match_in_full(key, value, why):
    text = "\n".join(f'{key}: "{value}"' if line.startswith(f"{key}:") else line for line in GOOD.splitlines()) + "\n"
    found = problems(text)
    assert any(f": {key}: " in line and why in line for line in found), found


def test_a_security_group_and_a_port_are_checked_one_by_one():
    found = problems(GOOD.replace("[sg-0123456789abcdef0]", "[sg-0123456789abcdef0, default]")
                     .replace("[80, 443]", "[80, 70000]"))
    assert any("security-groups[1]: 'default' is not a security group id" in line for line in found)
    assert any("lb-public-ports[1]: 70000 is not a TCP port" in line for line in found)


def test_provider_aws_needs_region_and_subnet():
    found = problems(GOOD.replace("region: eu-west-1\n", "").replace("subnet-id: subnet-0123456789abcdef0\n", ""))
    assert any("provider aws needs `region:`" in line for line in found)
    assert any("provider aws needs `subnet-id:`" in line for line in found)


def test_several_registry_nodes_share_the_aws_stacks_bucket_without_registry_storage():
    two_registries = GOOD.replace("    instance-type: m7g.large\n", "    instance-type: m7g.large\n    docker-registry: true\n")
    two_registries = two_registries.replace("    availability-zone: eu-west-1a\n", "    availability-zone: eu-west-1a\n    docker-registry: true\n")
    assert len(plan(config.parse(two_registries).config).registries) == 2
    assert any("docker-registry nodes need shared storage" in line
               for line in problems(two_registries.replace("s3bucket: cloud-registry\n", "")))
