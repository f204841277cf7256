"""A node's files lie side by side in nodes/ (`nodes/<name>.<file>`); a state directory of an
earlier version, with a directory per node, is moved to that layout by the next command that
takes the lock, and keeps every key: running nodes hold them."""

from __future__ import annotations

import os

import pytest

from blackfish.errors import UsageError
from blackfish.render import render_stack
from blackfish.state import NODE_FILES, StateDir, node_file
from tests.support.rendered import render_yaml

NODES = """
    stack: lay
    provider: docker
    admin-network: 10.242.0.0/24
    nodes:
      - ip: 10.242.0.11
      - ip: 10.242.0.12
      - ip: 10.242.0.13
      - ip: 10.242.0.14
"""


def node_files(state, nodes) -> dict[str, bytes]:
    return {rel: state.read(rel) for n in nodes for f in NODE_FILES
            if state.read(rel := node_file(n.node.name, f)) is not None}


def to_earlier_layout(state, nodes) -> None:
    """nodes/<name>/<file>, as blackfish wrote it before 2026-12-01."""
    for n in nodes:
        directory = state.path / "nodes" / n.node.name
        directory.mkdir(mode=0o700)
        for f in NODE_FILES:
            if state.file(node_file(n.node.name, f)).exists():
                os.rename(state.file(node_file(n.node.name, f)), directory / f)


def test_a_directory_per_node_is_moved_and_every_key_and_user_data_kept(tmp_path):
    stack, state, nodes = render_yaml(NODES, tmp_path)
    before = node_files(state, nodes)
    assert any(rel.endswith(".client-key.pem") for rel in before) and any(rel.endswith(".user-data") for rel in before)
    to_earlier_layout(state, nodes)
    assert node_files(state, nodes) == {}
    again = render_stack(stack, state)
    assert node_files(state, nodes) == before
    assert not any(n.changed for n in again)  # the same keys and certificates: no node needs new user-data
    assert [e.name for e in os.scandir(state.path / "nodes") if e.is_dir()] == []


def test_a_directory_holding_something_else_keeps_that_and_loses_the_node_files(tmp_path):
    stack, state, nodes = render_yaml(NODES, tmp_path)
    before = node_files(state, nodes)
    to_earlier_layout(state, nodes)
    (state.path / "nodes" / "lay-02" / "notes.txt").write_text("mine\n")
    render_stack(stack, state)
    assert node_files(state, nodes) == before
    assert os.listdir(state.path / "nodes" / "lay-02") == ["notes.txt"]


def test_a_linked_directory_is_neither_followed_nor_moved(tmp_path):
    stack, state, nodes = render_yaml(NODES, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "key.pem").write_text("not blackfish's\n")
    (state.path / "nodes" / "lay-03").symlink_to(elsewhere)
    key = state.read(node_file("lay-03", "key.pem"))
    render_stack(stack, state)
    assert state.read(node_file("lay-03", "key.pem")) == key
    assert (elsewhere / "key.pem").read_text() == "not blackfish's\n"


def test_a_departed_nodes_files_go_and_only_theirs(tmp_path):
    stack, state, nodes = render_yaml(NODES, tmp_path)
    kept = {rel: data for rel, data in node_files(state, nodes).items() if not rel.startswith("nodes/lay-04.")}
    smaller, _, _ = render_yaml(NODES.replace("      - ip: 10.242.0.14\n", ""), tmp_path)
    assert sorted(os.listdir(state.path / "nodes")) == sorted(rel.removeprefix("nodes/") for rel in kept)
    keys = {rel for rel in kept if rel.endswith(".pem")}  # the user-data of the others lists fewer peers now
    assert {rel: state.read(rel) for rel in keys} == {rel: kept[rel] for rel in keys}


def test_a_linked_nodes_directory_is_refused_and_nothing_in_it_moved(tmp_path):
    stack, state, nodes = render_yaml(NODES, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "lay-01").mkdir(parents=True)
    (elsewhere / "lay-01" / "key.pem").write_text("not blackfish's\n")
    os.rename(state.path / "nodes", tmp_path / "old-nodes")
    (state.path / "nodes").symlink_to(elsewhere)
    with pytest.raises(UsageError, match="is a symbolic link"):
        render_stack(stack, StateDir(stack.name, state.path.parent))  # as the next command would
    assert os.listdir(elsewhere) == ["lay-01"] and os.listdir(elsewhere / "lay-01") == ["key.pem"]
