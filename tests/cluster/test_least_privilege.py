"""Issue 16, findings 6 and 7 on a real docker-provider stack: what a worker's credentials can
reach, and Vagrant's insecure key on a node.

One manager (m1: registry, consul server) and one worker (w2), stack bfs1 (10.244.16.0/24). The
worker joins through the manager's token endpoint (it has no engine credentials); then, on the
worker, with everything the worker holds:
  - another engine refuses its certificate (real dockerd, mutual TLS);
  - the registry refuses its push (real distribution registry behind the rendered haproxy front)
    while it still pulls what a manager pushed;
and the operator's credential (the host's cert.pem, what the proxy, `check` and `load` use)
still drives every engine.
"""

from __future__ import annotations

import pytest

from tests.support.waiting import wait_for
from tests.support.images import busybox_image

pytestmark = pytest.mark.cluster

NAME = "bfs1"
REGISTRY = f"registry.service.{NAME}:5000"
NODES_YML = f"""\
stack: {NAME}
provider: docker
admin-network: 10.244.16.0/24
images:
  registry: {{registry}}
  haproxy: {{haproxy}}
nodes:
  - name: m1
    ip: 10.244.16.11
    docker-registry: true
    roles: [consul-server, swarm-manager]
  - name: w2
    ip: 10.244.16.12
    roles: []
"""
WORKER_TLS = ["--tlsverify", "--tlscacert", "/etc/docker/tls/ca.pem",
              "--tlscert", "/etc/docker/tls/cert.pem", "--tlskey", "/etc/docker/tls/key.pem"]
VAGRANT_ED25519 = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN1YdxBpNlzxDqfJyw/QKow1F+wvG9hXGoqiysfJOn5Y "
                   "vagrant insecure public key")


@pytest.fixture(scope="module")
def stack(booted_with_services):
    return booted_with_services(NAME, NODES_YML)


def test_the_worker_joins_without_engine_credentials(stack):
    assert wait_for(lambda: set(stack.swarm_nodes()) == {"m1", "w2"}, 120, "m1 and w2 in the swarm")
    listing = stack.on_node("w2", "ls", "/etc/docker/tls")
    assert listing.returncode == 0 and listing.stdout.split() == ["ca.pem", "cert.pem", "clients-ca.pem", "key.pem"]
    # The manager labelled the worker (a worker cannot change nodes): blackfish-swarm-sync.timer.
    labels = lambda: stack.docker("node", "inspect", "w2", "--format", "{{index .Spec.Labels \"io.blackfish.node\"}}").strip()
    assert wait_for(lambda: labels() == "w2", 150, "w2's labels from a manager")


def test_finding_6_another_engine_refuses_the_workers_certificate(stack):
    refused = stack.on_node("w2", "docker", "-H", "tcp://10.244.16.11:2376", *WORKER_TLS, "run", "--rm", busybox_image(), "true")
    assert refused.returncode != 0
    # Under TLS 1.3 the client learns of the refusal after its handshake: as a TLS alert, or as
    # the connection the engine closed while the request was being written.
    said = refused.stderr.lower()
    assert any(word in said for word in ("tls", "certificate", "broken pipe", "connection reset")), refused.stderr
    ping = stack.on_node("w2", "curl", "-s", "--max-time", "5", "--cacert", "/etc/docker/tls/ca.pem",
                         "--cert", "/etc/docker/tls/cert.pem", "--key", "/etc/docker/tls/key.pem",
                         "https://10.244.16.11:2376/_ping")
    assert ping.stdout != "OK"
    # The manager's own engine-client certificate does reach the worker's engine.
    answered = stack.on_node("m1", "docker", "-H", "tcp://10.244.16.12:2376", "--tlsverify",
                             "--tlscacert", "/etc/docker/tls/ca.pem", "--tlscert", "/etc/docker/tls/client-cert.pem",
                             "--tlskey", "/etc/docker/tls/client-key.pem", "info", "--format", "{{.Name}}")
    assert answered.returncode == 0 and answered.stdout.strip() == "w2", answered.stderr


def test_finding_6_the_registry_refuses_a_push_from_the_worker_and_serves_it_pulls(stack):
    url = f"https://{REGISTRY}/v2/"
    wait_for(lambda: stack.on_node("w2", "curl", "-sf", "--cacert", "/etc/docker/tls/ca.pem", "--cert",
                                   "/etc/docker/tls/cert.pem", "--key", "/etc/docker/tls/key.pem", url).returncode == 0,
             120, f"the registry at {url}")
    busybox = busybox_image()
    denied = f"{REGISTRY}/w2/busybox:1"
    assert stack.on_node("w2", "docker", "tag", busybox, denied).returncode == 0
    push = stack.on_node("w2", "docker", "push", denied)
    assert push.returncode != 0
    assert "403" in push.stderr or "denied" in (push.stdout + push.stderr).lower(), push.stdout + push.stderr
    # A manager (an admin of the swarm) pushes; the worker pulls that.
    allowed = f"{REGISTRY}/m1/busybox:1"
    assert stack.on_node("m1", "docker", "tag", busybox, allowed).returncode == 0
    pushed = stack.on_node("m1", "docker", "push", allowed)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    pulled = stack.on_node("w2", "docker", "pull", allowed)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr


def test_the_operators_credential_still_drives_every_engine(stack):
    out = stack.docker("node", "ls", "--format", "{{.Hostname}}")
    assert sorted(out.split()) == ["m1", "w2"]
    status = stack.status()
    assert all(row["engine"] == "tls ok" for row in status.values()), status


def test_finding_7_an_insecure_key_authorized_again_is_removed_by_the_path_unit(stack):
    keys = "/home/core/.ssh/authorized_keys"
    before = stack.on_node("w2", "cat", keys).stdout
    assert before.strip() and "vagrant insecure" not in before
    added = stack.on_node("w2", "sh", "-c", f"echo '{VAGRANT_ED25519}' >> {keys}")
    assert added.returncode == 0, added.stderr
    assert wait_for(lambda: stack.on_node("w2", "cat", keys).stdout == before, 30, "the key to be removed")
