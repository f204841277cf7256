"""The registry's S3 storage for real: Debian's docker-registry (distribution 2.8) runs twice
with the `storage` section rendered for an AWS stack, against moto's S3; an image pushed
through one registry is pulled through the other -- one store shared by several registry
nodes, the seed's HA registry.

The registries serve plain HTTP on 127.0.0.1 (the docker engine trusts loopback registries
without TLS): TLS is not what this test is about (tests/integration/test_render_services.py
runs the rendered TLS). The driver's credentials come from the environment here, from the
instance profile on EC2; the rendered file holds none.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import textwrap
import time
import urllib.request

import boto3
import pytest
import yaml

from tests.aws.conftest import NODES, SUBNET_CIDR
from tests.conftest import needs_docker, needs_tool
from tests.support.images import busybox_image
from tests.support.motoserver import REGION, free_port
from tests.support.rendered import files, render_yaml, user_data

pytestmark = pytest.mark.integration

BUCKET = "cloud-registry-store"  # NODES' s3bucket
def serve(config: dict, tmp_path, name: str, env: dict):
    """docker-registry serving `config` on a free loopback port; (process, port)."""
    port = free_port()
    config = {**config, "http": {"addr": f"127.0.0.1:{port}", "secret": config["http"]["secret"]}}
    path = tmp_path / f"{name}.yml"
    path.write_text(yaml.safe_dump(config))
    log = open(tmp_path / f"{name}.log", "w")
    process = subprocess.Popen(["docker-registry", "serve", str(path)], stdout=log, stderr=subprocess.STDOUT, env=env)
    log.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, (tmp_path / f"{name}.log").read_text()
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return process, port
        time.sleep(0.2)
    process.terminate()
    raise AssertionError(f"{name} did not listen: {(tmp_path / f'{name}.log').read_text()}")


MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def fetch(port: int, path: str, accept: str = "*/*") -> bytes:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v2/s3test/busybox/{path}", headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def docker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300)


def test_two_registries_share_the_rendered_s3_storage(aws_env, moto_server, tmp_path):
    needs_tool("docker-registry", "docker-registry")
    needs_docker()
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    text = textwrap.dedent(NODES).format(subnet="subnet-0123456789abcdef0", cidr=SUBNET_CIDR)
    _, _, nodes = render_yaml(text + f"s3-endpoint: {moto_server.endpoint}\n", tmp_path)
    configs = [yaml.safe_load(files(user_data(n))["/etc/blackfish/registry/config.yml"]) for n in nodes[:2]]
    storage = {"s3": {"bucket": BUCKET, "region": REGION, "regionendpoint": moto_server.endpoint},
               "delete": {"enabled": True}, "cache": {"blobdescriptor": "inmemory"}}
    assert [c["storage"] for c in configs] == [storage, storage]  # no keys: the instance profile's

    env = {**os.environ, **aws_env}
    first, first_port = serve(configs[0], tmp_path, "registry-a", env)
    second, second_port = serve(configs[1], tmp_path, "registry-b", env)
    pushed, pulled = f"127.0.0.1:{first_port}/s3test/busybox:1", f"127.0.0.1:{second_port}/s3test/busybox:1"
    try:
        source = busybox_image()
        assert docker("tag", source, pushed).returncode == 0
        push = docker("push", pushed)
        assert push.returncode == 0, push.stdout + push.stderr
        keys = [o["Key"] for o in boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET).get("Contents", [])]
        assert any(k.startswith("docker/registry/v2/repositories/s3test/busybox/") for k in keys), keys

        pull = docker("pull", pulled)
        assert pull.returncode == 0, pull.stdout + pull.stderr + (tmp_path / "registry-b.log").read_text()[-2000:]
        image_id = docker("image", "inspect", "--format", "{{.Id}}", pulled).stdout.strip()
        assert image_id == docker("image", "inspect", "--format", "{{.Id}}", source).stdout.strip()
        # A second client, plain HTTP: registry B serves the manifest and every blob, byte-exact.
        manifest = fetch(second_port, "manifests/1", MANIFEST)
        for blob in [json.loads(manifest)["config"], *json.loads(manifest)["layers"]]:
            data = fetch(second_port, f"blobs/{blob['digest']}")
            assert "sha256:" + hashlib.sha256(data).hexdigest() == blob["digest"]
    finally:
        docker("rmi", pushed, pulled)
        for process in (first, second):
            process.terminate()
            process.wait(10)
