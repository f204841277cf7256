"""The pure parts of provider aws: what each instance is launched with, which ports are open
to whom, names AWS limits, and the user-data packing (no AWS needed)."""

from __future__ import annotations

import os
import textwrap

import pytest

from blackfish.model import config
from blackfish.model.stack import plan
from blackfish.providers.aws import iam, instances, network, userdata
from blackfish.render import cloudinit

NODES = """\
stack: ec2lab
provider: aws
region: eu-west-1
subnet-id: subnet-0123456789abcdef0
admin-network: 10.0.1.0/24
nodes:
  - ip: 10.0.1.10
  - ip: 10.0.1.11
    instance-type: t4g.large
    lb: true
"""


def stack(extra: str = ""):
    return plan(config.parse(NODES + textwrap.dedent(extra)).config)


def test_every_instance_requires_imdsv2_with_one_hop_an_encrypted_root_and_the_tags():
    s = stack()
    node = s.nodes[1]
    params = instances.launch_params(s, node, image_id="ami-0123456789abcdef0", user_data=b"#cloud-config\n",
                                     group_ids=["sg-1"], profile=None, root_device="/dev/xvda", token="t")
    assert params["MetadataOptions"] == {"HttpTokens": "required", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled"}
    assert params["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
    assert params["PrivateIpAddress"] == "10.0.1.11" and params["InstanceType"] == "t4g.large"
    assert {spec["ResourceType"] for spec in params["TagSpecifications"]} == {"instance", "volume", "network-interface"}
    for spec in params["TagSpecifications"]:
        assert {"Key": "io.blackfish.stack", "Value": "ec2lab"} in spec["Tags"]
        assert {"Key": "io.blackfish.node", "Value": "ec2lab-02"} in spec["Tags"]
    assert "IamInstanceProfile" not in params and "KeyName" not in params


def test_nothing_is_open_outside_the_group_unless_asked():
    closed = network.wanted_rules(stack(), "sg-0123456789abcdef0")
    assert {source for *_, source in closed} == {"sg-0123456789abcdef0"}
    assert network.wanted_lb_rules(stack()) == set()
    opened = network.wanted_rules(stack("operator-cidr: 192.0.2.0/28\n"), "sg-0123456789abcdef0")
    from_operator = {(proto, first) for proto, first, _, source in opened if source == "192.0.2.0/28"}
    assert from_operator == {("tcp", 22), ("tcp", 2376), ("tcp", 8501), ("tcp", 5000)}
    assert network.wanted_lb_rules(stack("lb-public-ports: [80]\n")) == {("tcp", 80, 80, "0.0.0.0/0")}


def test_the_profile_name_fits_iam_and_differs_per_stack_and_region():
    long = plan(config.parse(NODES.replace("stack: ec2lab", "stack: " + "a" * 60)).config)
    assert len(iam.profile_name(long)) <= 64
    assert iam.profile_name(stack()) == "blackfish-ec2lab-eu-west-1"


def test_packed_user_data_decodes_to_the_render_byte_for_byte():
    rendered = "#cloud-config\nhostname: ec2lab-01\nwrite_files:\n" + "".join(
        f"  - path: /etc/blackfish/f{i}\n    content: |\n      {'line of a unit or a script ' * 3}\n" for i in range(600))
    assert len(rendered) > 3 * userdata.EC2_LIMIT
    packed = userdata.checked("ec2lab-01", rendered)
    assert len(packed) <= userdata.EC2_LIMIT
    assert packed == userdata.pack(rendered)  # the same render, the same bytes
    [file] = cloudinit.parse(packed.decode()).write_files
    assert file.data == rendered.encode() and file.mode == 0o600


def test_user_data_that_cannot_fit_is_refused():
    noise = os.urandom(20000).hex()
    with pytest.raises(userdata.UserDataTooLarge, match="over EC2's limit of 16384"):
        userdata.checked("ec2lab-01", f"#cloud-config\nhostname: {noise}\n")
