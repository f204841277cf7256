"""What EC2 holds as each node's user-data (read back through the API): at most 16,384 bytes,
and it decodes to exactly the user-data blackfish rendered -- the document every other
provider applies -- which the applier of blackfish.render.cloudinit reads as it is."""

from __future__ import annotations

import base64

import pytest

from blackfish.render import cloudinit
from blackfish.state import StateDir
from tests.aws.test_aws_lifecycle import live_instances, up

pytestmark = pytest.mark.integration


def test_every_nodes_user_data_fits_ec2_and_decodes_to_the_render(aws_env, ec2, nodes_yml):
    assert up(nodes_yml).returncode == 0
    state = StateDir("ec2lab")
    found = live_instances(ec2)
    rendered_sizes = []
    for name, instance in sorted(found.items()):
        attribute = ec2.describe_instance_attribute(InstanceId=instance["InstanceId"], Attribute="userData")
        given = base64.b64decode(attribute["UserData"]["Value"])
        assert len(given) <= 16384, (name, len(given))
        rendered = state.read(f"nodes/{name}.user-data")
        rendered_sizes.append(len(rendered))

        outer = cloudinit.parse(given.decode(), f"{name} (EC2)")
        [packed] = outer.write_files
        assert packed.mode == 0o600
        assert packed.data == rendered  # gzip+base64 decoded: byte for byte the render
        [unit] = outer.units
        assert unit.command == "start" and f"--from-file={packed.path}" in unit.content

        inner, plain = cloudinit.parse(packed.data.decode()), cloudinit.parse(rendered.decode())
        assert {f.path: (f.data, f.mode) for f in inner.write_files} == {f.path: (f.data, f.mode) for f in plain.write_files}
        assert inner.units == plain.units and inner.hostname == plain.hostname == name
    # Why the packing: as rendered, the user-data does not fit.
    assert max(rendered_sizes) > 16384

