"""stack.json: versioned, migrated on read, `booted` written by `up` only and cleared by
`destroy` only, and a plan record that restores the whole stack."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from blackfish import record
from blackfish.errors import BlackfishError
from blackfish.model import config
from blackfish.model.stack import Stack, plan
from blackfish.state import StateDir
from tests.conftest import EXAMPLE, blackfish

# Written by the release before schema versions (tests/unit/testdata/records/README.md says how).
V0_RECORD = Path(__file__).parent / "testdata" / "records" / "v0-render-docker.json"

EVERY_FIELD = EXAMPLE.read_text() + """\
box: example/box
runtime: rkt
id: lab
consul-joinip: 192.168.56.200
ssh-key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA0000000000000000000000000000000000000000000 me@laptop
private-ssh-key: ~/.ssh/id_ed25519
journald-sink: 192.168.56.1:5514
influxdb-url: https://192.168.56.1:8086
consul-key: 3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
registry-secret: shh-a-registry-secret
templates: mine
node-image: example/node:1
images: {consul: example/consul:9}
pki: {key: rsa-2048, name-constraints: false}
"""


@pytest.fixture
def old_state(tmp_path) -> StateDir:
    state = StateDir("vagrant", tmp_path / "home")
    state.ensure()
    shutil.copy(V0_RECORD, state.file("stack.json"))
    return state


def test_a_record_of_the_previous_release_is_read_as_booted_by_its_provider(old_state):
    found = record.read(old_state)
    assert found.booted == record.Booted(provider="docker", nodes=("vagrant-01", "vagrant-02", "vagrant-03"), at=None)
    stack = record.stack(old_state)
    assert stack.provider == "docker"
    assert [(n.name, n.ip, n.roles, n.labels) for n in stack.nodes][0] == (
        "vagrant-01", "192.168.56.101", ("consul-server", "swarm-manager", "docker-registry"), {"disk": "ssd"})
    assert stack.images["registry"] == "registry:3.1.1"
    assert stack.box == "flatcar-stable"  # not in that release's record: the default


def test_the_next_render_of_an_old_record_writes_the_current_schema_and_keeps_the_boot(old_state, tmp_path):
    planned = plan(config.parse(EXAMPLE.read_text()).config)  # provider: virtualbox
    record.save_plan(old_state, planned)
    raw = json.loads(old_state.file("stack.json").read_text())
    assert raw["schema-version"] == record.SCHEMA_VERSION
    assert raw["booted"] == {"provider": "docker", "nodes": ["vagrant-01", "vagrant-02", "vagrant-03"], "at": None}
    assert raw["plan"]["provider"] == "virtualbox"
    assert record.stack(old_state).provider == "docker"


def test_the_plan_record_restores_the_whole_stack_but_the_secrets():
    from blackfish.model.groups import Context
    from blackfish.model.stack import Node

    # consul-joinip names a consul server of another group of the stack (docs/groups.md).
    server = Node(name="c1", ip="192.168.56.200", stack="vagrant", dc="dc1", roles=("consul-server",), group="control")
    loaded = config.parse(EVERY_FIELD, context_for=lambda c, path: Context(others=(server,)))
    stack = plan(loaded.config, source=Path("/work/nodes.yml"))
    again = Stack.from_record(json.loads(json.dumps(stack.to_record())))
    # The record is the whole stack: no group acts on it (each node keeps its own group).
    assert again == dataclasses.replace(stack, consul_key=None, registry_secret=None, group=None)
    assert {n.group for n in again.nodes} == {"nodes"}
    assert "3q2+7w" not in json.dumps(stack.to_record()) and "shh-a-registry" not in json.dumps(stack.to_record())


def test_booted_is_kept_by_every_plan_and_cleared_only_when_asked(tmp_path):
    stack = plan(config.parse(EXAMPLE.read_text()).config)
    state = StateDir(stack.name, tmp_path / "home")
    record.save_plan(state, stack)
    assert record.booted(state) is None
    record.save_booted(state, "docker", ["vagrant-01"])
    record.save_booted(state, "docker", ["vagrant-02", "vagrant-01"])
    assert record.booted(state).nodes == ("vagrant-01", "vagrant-02")  # nodes booted before are not forgotten
    record.save_plan(state, dataclasses.replace(stack, provider="virtualbox"))
    assert record.booted(state).provider == "docker"
    record.clear_booted(state)
    assert record.booted(state) is None and record.read(state).plan["stack"] == "vagrant"


def test_a_record_of_a_newer_release_is_refused(tmp_path):
    state = StateDir("s", tmp_path / "home")
    state.save_record({"schema-version": 99, "plan": {}})
    with pytest.raises(BlackfishError, match="stack.json has schema version 99; this blackfish reads up to 1"):
        record.read(state)


# --- through the command line: the reproduction --------------------------------------


def test_render_validate_and_certs_never_change_what_booted_the_stack(bf_home, tmp_path):
    shutil.copy(EXAMPLE, tmp_path / "nodes.yml")  # provider: virtualbox
    state = StateDir("vagrant", bf_home)
    assert blackfish("render", cwd=tmp_path).returncode == 0
    record.save_booted(state, "docker", ["vagrant-01", "vagrant-02", "vagrant-03"])  # as `up --provider docker`
    booted = record.booted(state)
    for args in (["render"], ["validate"], ["validate", "--json"], ["certs", "rotate"], ["certs", "show"]):
        result = blackfish(*args, cwd=tmp_path)
        assert result.returncode == 0, (args, result.err)
        assert record.booted(state) == booted, args
