"""The stack record never forgets what booted a stack: after `up --provider docker`, the
commands that read nodes.yml (which names virtualbox) leave the containers booted and known,
and `destroy` removes them all, or exits 1 naming what it could not remove.

Stack bfc7 on 10.244.7.0/24, two nodes, booted once for the module; the tests run in order.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from blackfish import record
from blackfish.state import StateDir
from tests.conftest import assert_no_traceback

pytestmark = pytest.mark.cluster

NAME = "bfc7"
NODES = ("n1", "n2")
NODES_YML = f"""\
stack: {NAME}
provider: virtualbox
admin-network: 10.244.7.0/24
nodes:
  - name: n1
    ip: 10.244.7.11
  - name: n2
    ip: 10.244.7.12
"""
STEPS = ("check", "plan", "pki", "render", "boot", "ready")


@pytest.fixture(scope="module")
def stack(make_stack):
    return make_stack(NAME, NODES_YML)


@pytest.fixture(scope="module")
def booted(stack):
    """`blackfish up bfc7 --provider docker`, as a user types it."""
    return stack.cli("up", NAME, "--provider", "docker", "--parallel", "2")


def booted_by(stack):
    return record.booted(StateDir(NAME, stack.home))


def test_up_prints_one_line_per_node_per_step(booted):
    assert booted.returncode == 0, booted.stderr
    for node in NODES:
        lines = [line for line in booted.stderr.splitlines() if line.startswith(f"{node}  ")]
        assert [line.split()[1] for line in lines] == list(STEPS), booted.stderr
        assert re.fullmatch(rf"{node}  ready   ready; units: \d+ active.*", lines[-1]), lines[-1]


def test_commands_that_read_nodes_yml_never_change_what_booted_the_stack(stack, booted):
    before = booted_by(stack)
    assert before.provider == "docker" and before.nodes == NODES
    for args in (["render"], ["validate"], ["certs", "rotate"]):
        stack.ok(*args)
        assert booted_by(stack) == before, args
    # `up` with the nodes.yml as it is (provider: virtualbox) refuses, and changes nothing.
    result = stack.cli("up", NAME)
    assert result.returncode == 2, result.stderr
    assert (f"stack '{NAME}' has nodes on the docker provider (n1, n2); run `blackfish destroy {NAME}` first, "
            "or boot it with --provider docker") in result.stderr
    assert_no_traceback(result)
    assert booted_by(stack) == before
    rows = stack.status()
    assert {n: (rows[n]["state"], rows[n]["engine"]) for n in NODES} == {n: ("running", "tls ok") for n in NODES}


def test_destroy_that_cannot_remove_a_node_exits_1_and_names_it(stack, booted):
    container = f"{NAME}-n2"
    upper = subprocess.run(["docker", "inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", container],
                           capture_output=True, text=True, check=True).stdout.strip()
    stuck = f"{upper}/blackfish-test-immutable"
    # An immutable file in the container's layer: the docker engine cannot remove the container.
    subprocess.run(["sh", "-c", f"echo stuck > {stuck} && chattr +i {stuck}"], check=True)
    try:
        result = stack.destroy()
        assert result.returncode == 1, result.stderr
        assert f"blackfish: error: stack '{NAME}': destroy could not remove container {container}" in result.stderr
        assert f"container {NAME}-n1" in result.stderr  # what it did remove
        assert_no_traceback(result)
        assert booted_by(stack) is not None  # still remembered: something of it remains
    finally:
        subprocess.run(["chattr", "-i", stuck], check=True)
    result = stack.destroy()
    assert result.returncode == 0, result.stderr
    assert f"removed container {container}" in result.stderr.splitlines()
    assert stack.labelled("container") == stack.labelled("volume") == stack.labelled("network") == []
    assert booted_by(stack) is None
    assert json.loads(stack.ok("status", NAME, "--json"))[0]["state"] == "not_created"
