"""One stack from two nodes files (docs/groups.md), booted for real with the docker provider.

`up -f control.yml` (3 managers) creates stack bfgrp (10.244.153.0/24): CA, secrets, swarm;
`up -f workers.yml` (2 workers) adds its group: same CA, same swarm. `destroy -f workers.yml`
removes that group only. Then node c1's container is recreated with an empty /var/lib/docker
while c2 and c3 run: it rejoins the swarm it had (issue 15, fault 4), one swarm ID throughout.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from blackfish.providers.docker.node import LABEL_NODE, LABEL_STACK
from tests.conftest import needs_tool
from tests.support.waiting import wait_for

pytestmark = pytest.mark.cluster

NAME = "bfgrp"
CONTROL = f"""\
stack: {NAME}
provider: docker
admin-network: 10.244.153.0/24
nodes:
  - name: c1
    ip: 10.244.153.11
  - name: c2
    ip: 10.244.153.12
  - name: c3
    ip: 10.244.153.13
"""
WORKERS = f"""\
stack: {NAME}
provider: docker
admin-network: 10.244.153.0/24
labels:
  - tier=workers
nodes:
  - name: w1
    ip: 10.244.153.21
    roles: []
  - name: w2
    ip: 10.244.153.22
    roles: []
"""


@pytest.fixture(scope="module")
def stack(make_stack):
    stack = make_stack(NAME, CONTROL)
    stack.nodes_file.unlink()  # the two files below are the stack; commands given STACK read its record
    (stack.workdir / "control.yml").write_text(CONTROL)
    (stack.workdir / "workers.yml").write_text(WORKERS)
    return stack


def up(stack, file: str) -> str:
    return stack.ok("up", "-f", file, "--provider", "docker", "--parallel", "4")


def engine_info(stack, node: str, field: str) -> str:
    out = stack.on_node(node, "docker", "info", "--format", "{{" + field + "}}")
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def swarm_ids(stack, managers) -> set[str]:
    """The swarm (cluster) ID each manager's engine reports (a worker's engine does not know it)."""
    return {engine_info(stack, node, ".Swarm.Cluster.ID") for node in managers}


def ready_managers(stack) -> dict[str, str]:
    out = stack.docker("node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.ManagerStatus}}")
    return {line.split()[0]: line.split(" ", 2)[2] for line in out.splitlines()
            if line.split()[1] == "Ready" and len(line.split()) > 2}


def test_two_files_make_one_swarm_of_five_ready_nodes_with_one_ca(stack, tmp_path):
    needs_tool("openssl")
    up(stack, "control.yml")
    up(stack, "workers.yml")

    assert set(stack.swarm_nodes()) == {"c1", "c2", "c3", "w1", "w2"}  # all Ready
    assert len(swarm_ids(stack, ["c1", "c2", "c3"])) == 1
    # Each worker's engine is the node the managers' swarm lists under its name.
    listed = stack.swarm_nodes()
    for worker in ("w1", "w2"):
        assert engine_info(stack, worker, ".Swarm.NodeID") == listed[worker][0]
    assert set(ready_managers(stack)) == {"c1", "c2", "c3"}
    ca = stack.home / NAME / "ca.pem"
    for node in ("c1", "c2", "c3", "w1", "w2"):
        cert = tmp_path / f"{node}.pem"
        cert.write_text(stack.on_node(node, "cat", "/etc/docker/tls/cert.pem").stdout)
        verify = subprocess.run(["openssl", "verify", "-CAfile", str(ca), str(cert)], capture_output=True, text=True)
        assert verify.returncode == 0 and verify.stdout.strip().endswith(": OK"), verify.stdout + verify.stderr
    # A worker cannot label itself: a manager's blackfish-swarm-sync.timer (every minute) copies its engine labels.
    labels = lambda: stack.docker("node", "inspect", "w1", "--format", "{{range $k, $v := .Spec.Labels}}{{$k}}={{$v}} {{end}}")
    assert wait_for(lambda: "tier=workers" in labels().split(), 150, "w1's labels from a manager")

    rows = stack.status()
    assert {name: row["group"] for name, row in rows.items()} == {
        "c1": "control", "c2": "control", "c3": "control", "w1": "workers", "w2": "workers"}
    assert all(row["state"] == "running" for row in rows.values())


def test_destroying_the_workers_file_leaves_the_control_group_and_a_healthy_swarm(stack):
    before = swarm_ids(stack, ["c1"])
    result = stack.cli("destroy", "-f", "workers.yml", "--yes")
    assert result.returncode == 0, result.stderr
    assert "group 'workers' of stack 'bfgrp' destroyed" in result.stderr

    remaining = {c.split()[0] for c in subprocess.run(
        ["docker", "ps", "--filter", f"label={LABEL_STACK}={NAME}", "--format", f"{{{{.Label \"{LABEL_NODE}\"}}}} {{{{.Status}}}}"],
        capture_output=True, text=True, check=True).stdout.splitlines() if " Up " in f" {c} "}
    assert remaining == {"c1", "c2", "c3"}
    # The workers left the swarm's node list; the three managers are all there and one leads.
    out = stack.docker("node", "ls", "--format", "{{.Hostname}} {{.Status}}")
    assert sorted(out.splitlines()) == ["c1 Ready", "c2 Ready", "c3 Ready"]
    statuses = ready_managers(stack)
    assert sorted(statuses.values()).count("Leader") == 1 and set(statuses) == {"c1", "c2", "c3"}
    assert swarm_ids(stack, ["c1", "c2", "c3"]) == before
    assert set(stack.status()) == {"c1", "c2", "c3"}


def test_a_first_manager_recreated_with_an_empty_disk_rejoins_the_swarm_its_peers_run(stack):
    (before,) = swarm_ids(stack, ["c2", "c3"])
    subprocess.run(["docker", "rm", "--force", f"{NAME}-c1"], check=True, capture_output=True)
    subprocess.run(["docker", "volume", "rm", f"blackfish-{NAME}-c1-docker"], check=True, capture_output=True)

    up(stack, "control.yml")  # recreates c1 (its engine starts with no swarm state)
    assert swarm_ids(stack, ["c1", "c2", "c3"]) == {before}
    # Its old entry (down, a manager) goes once it rejoined: three managers, all reachable.
    deadline = time.monotonic() + 60
    while (listed := sorted(stack.docker("node", "ls", "--format", "{{.Hostname}} {{.Status}}").splitlines())) != [
            "c1 Ready", "c2 Ready", "c3 Ready"]:
        assert time.monotonic() < deadline, listed
        time.sleep(1)
    assert set(ready_managers(stack)) == {"c1", "c2", "c3"}
    journal = stack.on_node("c1", "journalctl", "-u", "blackfish-swarm", "--no-pager").stdout
    assert "initialising the swarm" not in journal and "joining as manager through" in journal
    assert "removed this node's old swarm entry" in journal
