"""The docker provider's node container definition, its privilege fallback and its file archive;
what `up --provider docker` refuses before it writes anything."""

from __future__ import annotations

import io
import socket
import tarfile

from blackfish.render.cloudinit import Entry
from blackfish.model.config import parse
from blackfish.providers.docker import node as dn
from blackfish.providers.docker.image import DEFAULT_IMAGE, IMAGE_ENV, node_image
from blackfish.model.stack import plan
from tests.conftest import assert_no_traceback, blackfish

STACK = plan(parse("stack: s1\nprovider: docker\nadmin-network: 10.244.9.0/24\n"
                   "nodes:\n  - ip: 10.244.9.11\n    memory: 1024\n  - ip: 10.244.9.12\n").config)
NODE = STACK.nodes[0]
# This project's machines: every capability up to CHECKPOINT_RESTORE except SYS_RESOURCE (bit 24).
STATUS = "Name:\tpython\nCapInh:\t0000000000000000\nCapBnd:\t000001fffeffffff\n"


def test_capabilities_come_from_the_bounding_set():
    caps = dn.host_capabilities(STATUS)
    assert "SYS_ADMIN" in caps and "NET_ADMIN" in caps and "CHECKPOINT_RESTORE" in caps
    assert "SYS_RESOURCE" not in caps
    assert dn.missing_capabilities(caps) == ["SYS_RESOURCE"]


def test_privileged_is_not_even_tried_where_this_machine_cannot_grant_every_capability():
    full = STATUS.replace("000001fffeffffff", "000001ffffffffff")
    assert dn.privileged_refused("http+docker://localhost", STATUS)  # runc would refuse: "unable to apply caps"
    assert not dn.privileged_refused("http+docker://localhost", full)
    # Another machine's engine: this machine's capabilities say nothing about it; trying tells.
    assert not dn.privileged_refused("https://10.0.0.5:2376", STATUS)


def test_a_node_is_named_labelled_and_addressed_after_its_stack():
    options = dn.container_options(STACK, NODE, "img", privileged=True, cgroup_version=1)
    assert options["name"] == "s1-s1-01" and options["hostname"] == "s1-01"
    assert options["labels"] == {"io.blackfish.stack": "s1", "io.blackfish.node": "s1-01"}
    assert options["network"] == "blackfish-s1"
    assert options["volumes"] == {"blackfish-s1-s1-01-docker": {"bind": "/var/lib/docker", "mode": "rw"}}
    assert options["stop_signal"] == "SIGRTMIN+3" and options["environment"] == {"container": "docker"}
    assert set(options["tmpfs"]) == {"/run", "/run/lock"}
    assert options["entrypoint"][-1].endswith("exec /sbin/init")
    assert options["mem_limit"] == "1024m"
    assert options["privileged"] is True and "cap_add" not in options


def test_the_fallback_spells_out_what_privileged_would_give():
    options = dn.container_options(STACK, NODE, "img", privileged=False, cgroup_version=1,
                                   capabilities=dn.host_capabilities(STATUS))
    assert "privileged" not in options
    assert options["cap_add"] == ["ALL"] and options["cap_drop"] == ["SYS_RESOURCE"]
    assert options["security_opt"] == ["seccomp=unconfined", "apparmor=unconfined"]
    assert options["device_cgroup_rules"] == ["a *:* rwm"]
    assert options["volumes"]["/sys/fs/cgroup"] == {"bind": "/sys/fs/cgroup", "mode": "rw"}


def test_on_cgroup_v2_a_node_gets_its_own_cgroup_namespace():
    options = dn.container_options(STACK, NODE, "img", privileged=False, cgroup_version=2, capabilities=[])
    assert options["cgroupns"] == "private"
    assert "/sys/fs/cgroup" not in options["volumes"]  # remounted rw by the entrypoint instead
    assert "remount,rw /sys/fs/cgroup" in options["entrypoint"][-1]


def test_the_archive_holds_root_owned_files_and_links():
    data = dn.tar_of((Entry("/etc/docker/tls/key.pem", b"KEY", 0o600), Entry("/etc/systemd/system/x.service", link="/dev/null")))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        key, link = tar.getmembers()
        assert (key.name, key.mode, key.uid, key.gid, tar.extractfile(key).read()) == ("etc/docker/tls/key.pem", 0o600, 0, 0, b"KEY")
        assert link.issym() and link.linkname == "/dev/null"


def test_the_node_image_comes_from_nodes_yml_then_the_environment_then_the_default(monkeypatch):
    monkeypatch.delenv(IMAGE_ENV, raising=False)
    assert node_image(STACK) == DEFAULT_IMAGE
    monkeypatch.setenv(IMAGE_ENV, "mine/node:2")
    assert node_image(STACK) == "mine/node:2"
    from dataclasses import replace

    assert node_image(replace(STACK, node_image="theirs/node:3")) == "theirs/node:3"


NODES_YML = "stack: bfu1\nprovider: docker\nadmin-network: 10.244.9.0/24\nnodes:\n  - ip: 10.244.9.11\n"


def test_up_without_a_docker_engine_exits_3_and_writes_nothing(bf_home, tmp_path):
    (tmp_path / "nodes.yml").write_text(NODES_YML)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = blackfish("up", cwd=tmp_path, env={"DOCKER_HOST": f"tcp://127.0.0.1:{port}"})
    assert result.returncode == 3
    # `up` shows its check step failing for the node, then the one-line error.
    assert result.err.splitlines() == [
        "bfu1-01  check   stopped (the step failed)",
        f"blackfish: error: no docker engine answers (tcp://127.0.0.1:{port}): connection refused. "
        "Install and start one (Debian: apt-get install docker.io)",
    ]
    assert not bf_home.exists()


def test_a_bad_ready_timeout_is_refused_before_anything_is_written(bf_home, tmp_path):
    (tmp_path / "nodes.yml").write_text(NODES_YML)
    result = blackfish("up", cwd=tmp_path, env={"BLACKFISH_UP_TIMEOUT": "5min"})
    assert result.returncode == 2
    assert result.err == "blackfish: error: $BLACKFISH_UP_TIMEOUT must be a number of seconds, not '5min'\n"
    assert_no_traceback(result)
    assert not bf_home.exists()
