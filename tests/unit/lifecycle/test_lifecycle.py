"""The lifecycle commands other than `up`: destroy (and what it leaves), status, and which
stack a command acts on. A provider double stands in for the real providers."""

from __future__ import annotations

import json

import pytest

from blackfish import lifecycle, record
from blackfish.errors import ProviderError
from blackfish.state import StateDir
from tests.conftest import assert_no_traceback, blackfish
from tests.support.provider_double import ProviderDouble
from tests.support.vagrant import write_nodes


def test_destroy_returns_what_it_removed_forgets_the_boot_and_keeps_the_pki(fleet, stack, tmp_path):
    state = StateDir(stack.name, tmp_path / "home")
    lifecycle.up(stack, state=state, wait=False)
    assert lifecycle.destroy(stack, state) == ["machine vt-01", "machine vt-02", "machine edge"]
    assert fleet["virtualbox"].nodes == {} and state.file("ca.pem").is_file()
    assert record.booted(state) is None
    lifecycle.destroy(stack, state, purge=True)
    assert not state.path.exists()


def test_destroy_that_leaves_a_node_fails_naming_it_and_remembers_the_boot(fleet, stack, tmp_path):
    fleet["virtualbox"] = ProviderDouble("virtualbox", stuck=("vt-02",))
    state = StateDir(stack.name, tmp_path / "home")
    lifecycle.up(stack, state=state, wait=False)
    with pytest.raises(ProviderError) as caught:
        lifecycle.destroy(stack, state, purge=True)
    assert caught.value.message == "stack 'vt': destroy could not remove machine vt-02"
    assert caught.value.detail == "removed: machine vt-01, machine edge"
    assert caught.value.exit_code == 1
    assert record.booted(state).provider == "virtualbox"  # not forgotten, and not purged
    assert state.file("ca.pem").is_file()


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
