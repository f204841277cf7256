"""Every node's consul agent token lives in secrets/consul-agent-tokens.json; the per-node files
of earlier versions are taken over (running agents hold those tokens) and go once the shared
file on disk holds them."""

from __future__ import annotations

import json

import pytest

from blackfish.errors import UsageError
from blackfish.render import render_stack
from tests.support.rendered import files, render_yaml, user_data

NODES = """
    stack: tok
    provider: docker
    admin-network: 10.242.0.0/24
    nodes:
      - ip: 10.242.0.11
      - ip: 10.242.0.12
"""
OLD_TOKEN = "0b7e5f7e-6c1d-4c3a-9d5e-2f1a3b4c5d6e"


def agent_token(node) -> str:
    hcl = files(user_data(node))["/etc/blackfish/consul/consul.hcl"]
    return next(line.split('"')[1] for line in hcl.splitlines() if line.strip().startswith("agent "))


def test_each_node_gets_its_own_token_kept_in_one_file(tmp_path):
    stack, state, nodes = render_yaml(NODES, tmp_path)
    stored = json.loads(state.read("secrets/consul-agent-tokens.json"))
    assert stored == {n.node.name: agent_token(n) for n in nodes} and len(set(stored.values())) == 2
    assert state.file("secrets/consul-agent-tokens.json").stat().st_mode & 0o777 == 0o600
    assert [agent_token(n) for n in render_stack(stack, state)] == list(stored.values())


def test_a_token_of_an_earlier_version_is_kept_and_its_file_goes_once_it_is_moved(tmp_path):
    stack, state, nodes = render_yaml(NODES, tmp_path)
    state.file("secrets/consul-agent-tokens.json").unlink()
    state.write("secrets/consul-token-agent-tok-01", OLD_TOKEN + "\n")
    again = render_stack(stack, state)
    assert agent_token(again[0]) == OLD_TOKEN
    assert state.read("secrets/consul-token-agent-tok-01") is not None  # not before the shared file is on disk
    render_stack(stack, state)
    assert state.read("secrets/consul-token-agent-tok-01") is None
    assert json.loads(state.read("secrets/consul-agent-tokens.json"))["tok-01"] == OLD_TOKEN


def test_a_departed_nodes_token_stays_for_its_return(tmp_path):
    stack, state, nodes = render_yaml(NODES, tmp_path)
    first = agent_token(nodes[1])
    one, _, _ = render_yaml(NODES.replace("      - ip: 10.242.0.12\n", ""), tmp_path)
    assert json.loads(state.read("secrets/consul-agent-tokens.json"))["tok-02"] == first
    _, _, back = render_yaml(NODES, tmp_path)
    assert agent_token(back[1]) == first


@pytest.mark.parametrize("content", ["not json", '["a list"]', '{"tok-01": "not-a-uuid"}', '{"tok-01": 7}'])
def test_a_damaged_token_file_is_an_error_naming_it(tmp_path, content):
    stack, state, _ = render_yaml(NODES, tmp_path)
    state.file("secrets/consul-agent-tokens.json").write_text(content)
    with pytest.raises(UsageError, match=r"secrets/consul-agent-tokens\.json: not valid .*remove the file"):
        render_stack(stack, state)


def test_a_damaged_token_file_of_an_earlier_version_is_an_error_naming_it(tmp_path):
    stack, state, _ = render_yaml(NODES, tmp_path)
    state.write("secrets/consul-token-agent-tok-03", "not-a-uuid\n")
    with pytest.raises(UsageError, match=r"secrets/consul-token-agent-tok-03: not a valid .*lowercase UUID.*remove the file"):
        render_stack(stack, state)
