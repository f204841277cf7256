"""The provider-independent lifecycle: the order of `up`, the recorded provider, destroy/purge,
and which stack a command acts on. A small in-memory provider stands in for the real ones
(those are tested against the real vagrant and docker elsewhere)."""

from __future__ import annotations

import json

import pytest

from blackfish import lifecycle, providers
from blackfish.errors import MissingToolError, UsageError
from blackfish.state import StateDir
from tests.conftest import assert_no_traceback, blackfish
from tests.support.vagrant import planned, tree, write_nodes


class MemoryProvider:
    """Nodes that exist in a dict; every call is noted."""

    def __init__(self, name, fail_check=False):
        self.name = name
        self.fail_check = fail_check
        self.calls = []
        self.nodes: dict[str, str] = {}

    def check(self, stack, state, progress=None):
        self.calls.append(("check", state.path.exists()))
        if self.fail_check:
            raise MissingToolError(f"{self.name} is missing", hint="install it")

    def up(self, stack, state, *, parallel=1, provision=False, progress=None):
        self.calls.append(("up", parallel, provision, (state.file(f"nodes/{stack.nodes[0].name}/user-data")).is_file()))
        for node in stack.nodes:
            progress and progress(node.name, "running")
            self.nodes[node.name] = "running"

    def status(self, stack, state):
        return [{"node": n.name, "ip": n.ip, "roles": list(n.roles), "state": self.nodes.get(n.name, "not_created"),
                 "engine": "tls"} for n in stack.nodes]

    def halt(self, stack, state):
        self.nodes = {name: "stopped" for name in self.nodes}

    def destroy(self, stack, state):
        self.nodes = {}

    def ssh_argv(self, stack, state, node, command):
        return ["ssh", node, *command]


@pytest.fixture
def fleet(monkeypatch):
    made: dict[str, MemoryProvider] = {}

    def get(name):
        return made.setdefault(name, MemoryProvider(name))

    monkeypatch.setattr(providers, "get", get)
    return made


@pytest.fixture
def stack(tmp_path):
    return planned(write_nodes(tmp_path))


def test_up_checks_first_then_renders_records_and_boots(fleet, stack, tmp_path):
    state = StateDir(stack.name, tmp_path / "home")
    phases = []
    rows = lifecycle.up(stack, state=state, parallel=2, progress=lambda node, phase: phases.append((node, phase)))
    provider = fleet["virtualbox"]
    assert provider.calls == [("check", False), ("up", 2, False, True)]
    assert state.record()["provider"] == "virtualbox"
    assert [r["state"] for r in rows] == ["running"] * 3
    assert ("vt-01", "rendering user-data") in phases and ("edge", "running") in phases


def test_a_failed_check_leaves_no_state_behind(fleet, stack, tmp_path):
    fleet["virtualbox"] = MemoryProvider("virtualbox", fail_check=True)
    state = StateDir(stack.name, tmp_path / "home")
    with pytest.raises(MissingToolError):
        lifecycle.up(stack, state=state)
    assert not (tmp_path / "home").exists()


def test_a_failed_check_leaves_an_existing_state_untouched(fleet, stack, tmp_path):
    state = StateDir(stack.name, tmp_path / "home")
    lifecycle.up(stack, state=state)
    before = tree(state.path)
    fleet["virtualbox"].fail_check = True
    with pytest.raises(MissingToolError):
        lifecycle.up(stack, state=state)
    assert tree(state.path) == before


def test_another_provider_may_not_boot_a_stack_whose_nodes_exist(fleet, stack, tmp_path):
    import dataclasses

    state = StateDir(stack.name, tmp_path / "home")
    lifecycle.up(stack, state=state)
    elsewhere = dataclasses.replace(stack, provider="docker")
    with pytest.raises(UsageError, match=r"has nodes on the virtualbox provider \(vt-01, vt-02, edge\); "
                                         r"run `blackfish destroy vt` first, or boot it with --provider virtualbox"):
        lifecycle.up(elsewhere, state=state)
    lifecycle.destroy(stack, state)
    lifecycle.up(elsewhere, state=state)
    assert state.record()["provider"] == "docker"


def test_destroy_keeps_the_pki_unless_purged(fleet, stack, tmp_path):
    state = StateDir(stack.name, tmp_path / "home")
    lifecycle.up(stack, state=state)
    lifecycle.destroy(stack, state)
    assert fleet["virtualbox"].nodes == {} and state.file("ca.pem").is_file()
    lifecycle.destroy(stack, state, purge=True)
    assert not state.path.exists()


def test_status_columns_start_with_node_ip_roles_state():
    rows = [{"state": "running", "engine": "ok", "node": "a", "ip": "1", "roles": []}, {"node": "b", "units": "3/3"}]
    assert lifecycle.status_columns(rows) == ["node", "ip", "roles", "state", "engine", "units"]


# --- through the command line -------------------------------------------------------


def test_status_of_a_stack_never_booted_lists_every_node_not_created(bf_home, tmp_path):
    write_nodes(tmp_path)
    result = blackfish("status", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.err
    rows = json.loads(result.out)
    assert [(r["node"], r["ip"], r["state"]) for r in rows] == [
        ("vt-01", "192.168.56.11", "not_created"), ("vt-02", "192.168.56.12", "not_created"),
        ("edge", "192.168.56.13", "not_created")]
    assert rows[2]["roles"] == ["consul-server", "swarm-manager", "lb"]
    assert not bf_home.exists()


def test_up_refuses_a_stack_the_file_does_not_describe(bf_home, tmp_path):
    write_nodes(tmp_path)
    result = blackfish("up", "other", cwd=tmp_path)
    assert result.returncode == 2
    assert "nodes.yml: describes stack 'vt', not 'other'" in result.err
    assert_no_traceback(result)


def test_commands_on_a_stack_without_state_say_to_run_up(bf_home, tmp_path):
    for args in (["status", "nowhere"], ["halt", "nowhere"], ["destroy", "--yes", "nowhere"], ["ssh", "nowhere", "n1"]):
        result = blackfish(*args, cwd=tmp_path)
        assert result.returncode == 2, args
        assert "stack 'nowhere' has no state" in result.err and "blackfish up" in result.err
        assert_no_traceback(result)
