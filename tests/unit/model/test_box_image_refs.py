"""The user-data reader the box test relies on finds the images of real container commands."""

from __future__ import annotations

import pytest

from blackfish.render import cloudinit
from tests.support import image_refs


def user_data(script: str, unit: str = "") -> cloudinit.CloudConfig:
    indented = "".join(f"      {line}\n" for line in script.splitlines())
    unit_text = "".join(f"        {line}\n" for line in unit.splitlines())
    return cloudinit.parse(
        "#cloud-config\n"
        "write_files:\n"
        "  - path: /opt/blackfish/bin/run\n"
        "    permissions: '0755'\n"
        "    content: |\n" + indented +
        "coreos:\n"
        "  units:\n"
        "    - name: svc.service\n"
        "      content: |\n" + (unit_text or "        [Service]\n")
    )


@pytest.mark.parametrize(("command", "image"), [
    ("docker run --rm --name consul -v /a:/b -e X=1 hashicorp/consul:1.2 agent -server", "hashicorp/consul:1.2"),
    ("exec /usr/bin/docker run -d --net=host -p 80:80 --restart always haproxy:3 -W", "haproxy:3"),
    ("docker -H unix:///var/run/docker.sock container run -it --init registry:3 serve", "registry:3"),
    ("docker run \\\n  --name r \\\n  -itp5000:5000 \\\n  registry:3.0.0", "registry:3.0.0"),
    ("docker create --sig-proxy=false -u 0 busybox:1 true", "busybox:1"),
])
def test_finds_the_image_of_a_docker_command(command, image):
    assert image_refs.images(user_data(command)) == {image}


def test_finds_images_in_units_and_resolves_their_variables():
    unit = (
        "[Service]\n"
        "Environment=IMAGE=gliderlabs/registrator:v7\n"
        "ExecStart=/usr/bin/docker run --name registrator ${IMAGE} consul://localhost:8500\n"
    )
    assert image_refs.images(user_data("true", unit)) == {"gliderlabs/registrator:v7"}


def test_finds_the_images_of_rkt_pods():
    command = "rkt run --insecure-options=image --net=host docker://hashicorp/consul:1.2 --exec consul"
    assert image_refs.images(user_data(command)) == {"hashicorp/consul:1.2"}


def test_ignores_docker_commands_that_start_no_container():
    script = "docker pull x:1\ndocker -H tcp://a:2376 --tlsverify swarm join --token t a:2377\ndocker info"
    assert image_refs.images(user_data(script)) == set()


def test_an_image_it_cannot_resolve_is_an_error():
    with pytest.raises(AssertionError, match="cannot resolve the image"):
        image_refs.images(user_data('docker run --rm "$1"'))
