"""`up`, `destroy` and `status` of a stack made of several nodes files (docs/groups.md), with a
provider double standing in for the real providers (the real thing: tests/cluster/test_groups.py)."""

from __future__ import annotations

import pytest

from blackfish import lifecycle, providers, record
from blackfish.cli.common import load_stack
from blackfish.errors import ProviderError, UsageError
from blackfish.state import StateDir
from tests.support.provider_double import ProviderDouble

CONTROL = "stack: g\nprovider: {provider}\nadmin-network: 10.245.1.0/24\nnodes:\n  - {{name: c1, ip: 10.245.1.11}}\n"
WORKERS = ("stack: g\nprovider: {provider}\nadmin-network: 10.245.1.0/24\nnodes:\n"
           "  - {{name: w1, ip: 10.245.1.21, roles: []}}\n  - {{name: w2, ip: 10.245.1.22, roles: []}}\n")


@pytest.fixture
def fleet(monkeypatch):
    made: dict[str, ProviderDouble] = {}
    monkeypatch.setattr(providers, "get", lambda name: made.setdefault(name, ProviderDouble(name)))
    return made


def group(tmp_path, name: str, text: str, provider: str = "docker"):
    path = tmp_path / f"{name}.yml"
    path.write_text(text.format(provider=provider))
    return load_stack(str(path))


def test_a_later_group_boots_its_own_nodes_and_the_record_keeps_both(fleet, bf_home, tmp_path):
    lifecycle.up(group(tmp_path, "control", CONTROL), wait=False)
    fleet["docker"].nodes["c1"] = "stopped"  # left alone by the workers' up
    rows = lifecycle.up(group(tmp_path, "workers", WORKERS), wait=False)
    assert fleet["docker"].nodes == {"c1": "stopped", "w1": "running", "w2": "running"}
    assert [(r["node"], r["group"]) for r in rows] == [("c1", "control"), ("w1", "workers"), ("w2", "workers")]
    booted = record.booted(StateDir("g"))
    assert booted.nodes == ("c1", "w1", "w2")


def test_the_group_with_every_manager_cannot_be_destroyed_alone(fleet, bf_home, tmp_path):
    lifecycle.up(group(tmp_path, "control", CONTROL), wait=False)
    lifecycle.up(group(tmp_path, "workers", WORKERS), wait=False)
    with pytest.raises(UsageError) as caught:
        lifecycle.destroy(group(tmp_path, "control", CONTROL))
    assert caught.value.message.startswith("group 'control' holds every swarm manager of stack 'g'")
    assert [n["name"] for n in record.read(StateDir("g")).plan["nodes"]] == ["c1", "w1", "w2"]
    assert set(fleet["docker"].nodes) == {"c1", "w1", "w2"}


def test_a_destroyed_group_is_forgotten_even_when_no_manager_can_drop_its_swarm_entries(fleet, bf_home, tmp_path):
    lifecycle.up(group(tmp_path, "control", CONTROL), wait=False)
    lifecycle.up(group(tmp_path, "workers", WORKERS), wait=False)
    with pytest.raises(ProviderError) as caught:  # the double's engines never answer
        lifecycle.destroy(group(tmp_path, "workers", WORKERS))
    assert caught.value.message.startswith("group 'workers' of stack 'g' destroyed, but its nodes are still in the "
                                           "swarm's node list: no manager of stack 'g' outside group 'workers' answers")
    assert [n["name"] for n in record.read(StateDir("g")).plan["nodes"]] == ["c1"]
    assert record.booted(StateDir("g")).nodes == ("c1",)


def test_several_groups_on_a_vagrant_provider_are_refused_with_the_reason(fleet, bf_home, tmp_path):
    lifecycle.up(group(tmp_path, "control", CONTROL, "virtualbox"), wait=False)
    with pytest.raises(UsageError) as caught:
        lifecycle.up(group(tmp_path, "workers", WORKERS, "virtualbox"), wait=False)
    assert "blackfish boots a stack from several nodes files on the docker provider only, not on virtualbox" in caught.value.message
    assert set(fleet["virtualbox"].nodes) == {"c1"}
