"""A real 3-node swarm from nodes.yml with the docker provider, and what a user does with it.

One stack (bfc1, 10.244.1.0/24) is booted once for the module; the tests run in order, as a
user's session would: use the swarm, lose a manager, halt, grow, destroy.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.support.images import busybox_image
from tests.support.waiting import wait_for

pytestmark = pytest.mark.cluster

NAME = "bfc1"
REGISTRY = f"registry.service.{NAME}:5000"
NODES_YML = f"""\
stack: {NAME}
provider: docker
admin-network: 10.244.1.0/24
images:
  registry: {{registry}}
  haproxy: {{haproxy}}
nodes:
  - name: m1
    ip: 10.244.1.11
    docker-registry: true
  - name: m2
    ip: 10.244.1.12
  - name: m3
    ip: 10.244.1.13
"""
FOURTH_NODE = """\
  - name: w4
    ip: 10.244.1.14
"""
NODE_TLS = ["--cacert", "/etc/docker/tls/ca.pem"]
NODE_CLIENT_CERT = ["--cert", "/etc/docker/tls/cert.pem", "--key", "/etc/docker/tls/key.pem"]
# Engines accept the clients CA's certificates only: a manager's engine-client pair (docs/security.md).
MANAGER_CLIENT_CERT = ["--cert", "/etc/docker/tls/client-cert.pem", "--key", "/etc/docker/tls/client-key.pem"]


@pytest.fixture(scope="module")
def stack(booted_with_services):
    return booted_with_services(NAME, NODES_YML)


def test_up_gives_three_ready_swarm_nodes(stack):
    out = stack.docker("node", "ls")
    assert sum(" Ready " in line for line in out.splitlines()) == 3, out
    assert set(stack.swarm_nodes()) == {"m1", "m2", "m3"}


def test_status_shows_each_node_and_the_services_that_cannot_run_offline(stack):
    rows = stack.status()
    assert set(rows) == {"m1", "m2", "m3"}
    for row in rows.values():
        assert row["state"] == "running"
        assert row["engine"] == "tls ok"
        assert row["swarm"] == "manager (ready)"
        # consul's image cannot be pulled here: its unit waits for it visibly (no restart loop),
        # and the swarm does not care.
        assert "blackfish-consul.service" in row["waiting"]
        assert "blackfish-consul.service" not in row["failed"]
        assert "waiting" in row["units"]
        assert not {"docker.service", "blackfish-swarm.service"} & set(row["failed"] + row["waiting"])


def test_no_tcp_port_of_a_node_serves_the_engine_without_tls(stack):
    """The engine's only TCP endpoint is TLS with client certificates: every TCP listener of a
    node refuses the docker API to a plaintext client and to a TLS client without a certificate."""
    listening = stack.on_node("m2", "ss", "-Hltn")
    assert listening.returncode == 0, listening.stderr
    addresses = {line.split()[3] for line in listening.stdout.splitlines() if line.strip()}
    assert "10.244.1.12:2376" in addresses and not any(a.endswith(":2375") for a in addresses), addresses

    def ping(url: str, *tls: str) -> str:
        return stack.on_node("m2", "curl", "-s", "--max-time", "5", *tls, url).stdout

    for address in addresses:
        host, port = address.rsplit(":", 1)
        host = host.split("%")[0]  # 127.0.0.53%lo: bound to an interface
        host = "10.244.1.12" if host in ("0.0.0.0", "*", "[::]") else host
        assert ping(f"http://{host}:{port}/_ping") != "OK", f"{address} serves the docker API in plaintext"
        assert ping(f"https://{host}:{port}/_ping", "--insecure") != "OK", f"{address}: docker API without a client certificate"
    # The probe itself works: with a manager's engine-client certificate the engine answers (its
    # node certificate opens no engine); in plaintext it says why not.
    assert ping("https://10.244.1.12:2376/_ping", *NODE_TLS, *MANAGER_CLIENT_CERT) == "OK"
    assert ping("https://10.244.1.12:2376/_ping", *NODE_TLS, *NODE_CLIENT_CERT) != "OK"
    assert "HTTP request to an HTTPS server" in ping("http://10.244.1.12:2376/_ping")


def test_a_replicated_service_spreads_over_all_nodes(stack):
    stack.docker("service", "create", "--detach", "--no-resolve-image", "--name", "spread", "--replicas", "3",
                 busybox_image(), "sleep", "600")
    try:
        def placed():
            out = stack.docker("service", "ps", "spread", "--filter", "desired-state=running",
                               "--format", "{{.Node}} {{.CurrentState}}")
            nodes = {line.split()[0] for line in out.splitlines() if " Running " in f" {line} "}
            return nodes if len(nodes) == 3 else None

        assert wait_for(placed, 90, "3 running replicas") == {"m1", "m2", "m3"}
    finally:
        stack.docker("service", "rm", "spread")


def test_a_push_from_one_node_is_pulled_on_another_over_tls(stack):
    url = f"https://{REGISTRY}/v2/"
    wait_for(lambda: stack.on_node("m2", "curl", "-sf", *NODE_TLS, *NODE_CLIENT_CERT, url).returncode == 0,
             90, f"the registry at {url}")
    image = f"{REGISTRY}/smoke/busybox:1"
    assert stack.on_node("m2", "docker", "tag", busybox_image(), image).returncode == 0
    push = stack.on_node("m2", "docker", "push", image)
    assert push.returncode == 0, push.stdout + push.stderr
    pull = stack.on_node("m3", "docker", "pull", image)
    assert pull.returncode == 0, pull.stdout + pull.stderr
    assert stack.on_node("m3", "docker", "run", "--rm", image, "echo", "pulled").stdout.strip() == "pulled"
    # The registry is TLS with client certificates: the CA alone does not get in.
    assert stack.on_node("m3", "curl", "-sf", *NODE_TLS, url).returncode != 0


def test_loading_an_image_this_machine_lacks_says_so(stack):
    result = stack.cli("load", NAME, "blackfish-test/no-such-image:1")
    assert result.returncode == 2
    assert "not on this machine's docker engine: blackfish-test/no-such-image:1" in result.stderr


def test_load_into_chosen_nodes_only(stack):
    image = "blackfish-test/busybox:only-m2"
    subprocess.run(["docker", "tag", busybox_image(), image], check=True)
    try:
        stack.ok("load", NAME, image, "--node", "m2")
    finally:
        subprocess.run(["docker", "rmi", image], capture_output=True)
    has = {n: stack.on_node(n, "docker", "image", "inspect", image).returncode == 0 for n in ("m1", "m2", "m3")}
    assert has == {"m1": False, "m2": True, "m3": False}
    unknown = stack.cli("load", NAME, busybox_image(), "--node", "m9")
    assert unknown.returncode == 2
    assert f"stack '{NAME}' has no node 'm9' (its nodes: m1, m2, m3)" in unknown.stderr


def test_check_passes_and_skips_consul_without_its_image(stack):
    result = stack.cli("check", NAME, "--image", busybox_image(), "--json", timeout=300)
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["passed"] is True
    outcome = {(c["check"], c["target"]): c["result"] for c in report["checks"]}
    assert all(outcome[("engine", n)] == "ok" and outcome[("swarm", n)] == "ok" for n in ("m1", "m2", "m3"))
    assert outcome[("service", "swarm")] == "ok"
    assert outcome[("registry", REGISTRY)] == "ok"
    assert outcome[("consul", "members")] == "skip"


def test_a_killed_manager_leaves_the_proxy_answering_and_up_restores_it(stack):
    before = stack.swarm_nodes()
    subprocess.run(["docker", "kill", f"{NAME}-m1"], check=True, capture_output=True)  # the leader

    def answer():
        # While the other managers elect a new leader (about 20 s) their engines hold /info.
        result = stack.cli(NAME, "info", "--format", "{{.Name}}", timeout=120)
        return result.stdout.strip() if result.returncode == 0 else None

    assert wait_for(answer, 90, "the proxy to answer through another manager") in {"m2", "m3"}
    assert stack.status()["m1"]["state"] == "exited"
    stack.up()
    assert stack.swarm_nodes() == before


def test_halt_then_up_gives_back_the_same_swarm(stack):
    before = stack.swarm_nodes()
    stack.ok("halt", NAME)
    assert {row["state"] for row in stack.status().values()} == {"exited"}
    stack.up()
    assert stack.swarm_nodes() == before


def test_a_fourth_node_joins_without_touching_the_others(stack):
    def started():
        return {n: subprocess.run(["docker", "inspect", "--format", "{{.State.StartedAt}}", f"{NAME}-{n}"],
                                  capture_output=True, text=True, check=True).stdout for n in ("m1", "m2", "m3")}

    before, ids = started(), stack.swarm_nodes()
    stack.nodes_file.write_text(stack.nodes_file.read_text() + FOURTH_NODE)
    stack.up()
    now = stack.swarm_nodes()
    assert set(now) == {"m1", "m2", "m3", "w4"}
    assert {n: now[n] for n in ids} == ids
    roles = stack.docker("node", "ls", "--format", "{{.Hostname}}={{.ManagerStatus}}").split()
    assert "w4=" in roles  # a worker: no manager status
    assert started() == before


def test_destroy_leaves_nothing_labelled_and_keeps_the_pki(stack):
    result = stack.destroy()
    assert result.returncode == 0, result.stderr
    assert stack.labelled("container") == []
    assert stack.labelled("volume") == []
    assert stack.labelled("network") == []
    assert (stack.home / NAME / "ca.pem").is_file()
