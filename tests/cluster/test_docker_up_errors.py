"""How `blackfish up --provider docker` fails: early for bad input, with the journal for a broken node."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import REPO, assert_no_traceback

pytestmark = pytest.mark.cluster


def test_user_data_outside_the_applied_subset_stops_up_with_its_place(make_stack):
    stack = make_stack("bfc2", "stack: bfc2\nprovider: docker\nadmin-network: 10.244.2.0/24\ntemplates: mine\n"
                               "nodes:\n  - ip: 10.244.2.11\n")
    (stack.workdir / "mine").mkdir()
    # A user template that adds what coreos-cloudinit does not have.
    (stack.workdir / "mine" / "cloud-config.yml.j2").write_text(
        '{% include "builtin/cloud-config.yml.j2" %}\nruncmd:\n  - echo hi\n')
    result = stack.cli("up", "bfc2")
    assert result.returncode == 2, result.stderr
    assert "nodes/bfc2-01.user-data: runcmd: unknown key" in result.stderr
    assert_no_traceback(result)
    assert stack.labelled("container") == []


def up_beside_a_foreign_network(stack, network: str, subnet: str):
    """`blackfish up STACK` while a docker network blackfish did not make exists."""
    subprocess.run(["docker", "network", "create", "--subnet", subnet, network], check=True, capture_output=True)
    try:
        return stack.cli("up", stack.name)
    finally:
        subprocess.run(["docker", "network", "rm", network], capture_output=True)


def test_an_admin_network_that_overlaps_a_docker_network_is_refused(make_stack):
    stack = make_stack("bfc3", "stack: bfc3\nprovider: docker\nadmin-network: 10.244.3.0/24\n"
                               "nodes:\n  - ip: 10.244.3.11\n")
    result = up_beside_a_foreign_network(stack, "bfc3-someone-else", "10.244.3.0/25")
    assert result.returncode == 2, result.stderr
    assert "admin-network 10.244.3.0/24 overlaps docker network bfc3-someone-else (10.244.3.0/25)" in result.stderr
    assert not (stack.home / "bfc3" / "stack.json").exists()  # checked before anything was written
    assert stack.labelled("container") == []


def test_a_network_of_the_stack_name_that_blackfish_did_not_make_is_refused(make_stack):
    stack = make_stack("bfc6", "stack: bfc6\nprovider: docker\nadmin-network: 10.244.6.0/24\n"
                               "nodes:\n  - ip: 10.244.6.11\n")
    result = up_beside_a_foreign_network(stack, "blackfish-bfc6", "10.244.6.0/24")
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[0] == "bfc6-01  check   stopped (the step failed)"
    assert result.stderr.splitlines()[-1] == (
        "blackfish: error: docker network blackfish-bfc6 exists but blackfish did not make it for stack 'bfc6'; "
        "remove it (`docker network rm blackfish-bfc6`) or rename the stack")
    assert not (stack.home / "bfc6" / "stack.json").exists()


def test_a_node_that_cannot_join_fails_up_with_its_unit_journal(make_stack):
    stack = make_stack("bfc4", "stack: bfc4\nprovider: docker\nadmin-network: 10.244.4.0/24\ntemplates: mine\n"
                               "nodes:\n  - name: a1\n    ip: 10.244.4.11\n")
    (stack.workdir / "mine" / "files").mkdir(parents=True)
    builtin = (REPO / "templates" / "files" / "swarm.env.j2").read_text()
    (stack.workdir / "mine" / "files" / "swarm.env.j2").write_text(
        builtin.replace('ROLE="{{', 'ROLE="boss" #{{'))
    stack.env["BLACKFISH_UP_TIMEOUT"] = "20"
    result = stack.cli("up", "bfc4")
    assert result.returncode == 1
    assert "blackfish: error: ready step: stack 'bfc4': 1 node(s) not ready after 20 s: a1: " in result.stderr
    assert "unit blackfish-swarm.service is failed; its journal ends:" in result.stderr
    # systemd's own lines (the script's stderr may lose the race to journald before it exits)
    assert "blackfish-swarm.service: Main process exited, code=exited, status=2/INVALIDARGUMENT" in result.stderr
    assert_no_traceback(result)


def test_a_node_image_the_engine_lacks_is_refused_before_anything_is_written(make_stack):
    stack = make_stack("bfc5", "stack: bfc5\nprovider: docker\nadmin-network: 10.244.5.0/24\n"
                               "nodes:\n  - ip: 10.244.5.11\n")
    result = stack.cli("up", "bfc5", "--node-image", "blackfish-test/no-such-node:1")
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[0] == "bfc5-01  check   stopped (the step failed)"
    assert result.stderr.splitlines()[1].startswith(
        "blackfish: error: node image 'blackfish-test/no-such-node:1' is not on the docker engine")
    assert_no_traceback(result)
    assert not (stack.home / "bfc5").exists()
