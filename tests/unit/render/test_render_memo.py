"""A rerun renders only what changed: the memo of each node's inputs never keeps stale user-data."""

from __future__ import annotations

import json
import os

from blackfish import pki
from blackfish.render import render_stack
from tests.support.rendered import files, render_yaml, user_data

NODES = """
    stack: memo
    provider: docker
    admin-network: 10.242.0.0/24
    nodes:
      - ip: 10.242.0.11
      - ip: 10.242.0.12
"""


def contents(nodes) -> dict[str, bytes]:
    return {n.node.name: n.path.read_bytes() for n in nodes}


def test_a_rerun_with_nothing_changed_writes_nothing(tmp_path):
    stack, state, nodes = render_yaml(NODES, tmp_path)
    again = render_stack(stack, state)
    assert [n.changed for n in nodes] == [True, True] and [n.changed for n in again] == [False, False]
    assert contents(again) == contents(nodes)


def test_user_data_edited_by_hand_is_rendered_again(tmp_path):
    stack, state, nodes = render_yaml(NODES, tmp_path)
    expected = contents(nodes)
    nodes[1].path.write_text("#cloud-config\nhostname: tampered\n")
    again = render_stack(stack, state)
    assert [n.changed for n in again] == [False, True]
    assert contents(again) == expected


def test_a_reissued_node_certificate_reaches_that_node_only(tmp_path):
    stack, state, nodes = render_yaml(NODES, tmp_path)
    state.remove(pki.node_key("memo-02"))  # the next run must issue a new key and certificate
    again = render_stack(stack, state)
    assert [n.changed for n in again] == [False, True]
    assert files(user_data(again[1]))["/etc/docker/tls/cert.pem"] == state.read(pki.node_cert("memo-02")).decode()


def test_a_changed_user_template_renders_every_node_again(tmp_path):
    templates = tmp_path / "mine" / "files"
    templates.mkdir(parents=True)
    (templates / "hosts.j2").write_text("# first\n")
    stack, state, nodes = render_yaml(NODES, tmp_path, templates=templates.parent)
    (templates / "hosts.j2").write_text("# second\n")
    again = render_stack(stack, state, templates.parent)
    assert [n.changed for n in again] == [True, True]
    assert all("# second" in n.path.read_text() for n in again)


def test_a_damaged_memo_only_costs_a_full_render(tmp_path):
    stack, state, nodes = render_yaml(NODES, tmp_path)
    state.write("render-memo.json", "{not json")
    state.write(pki.CHECKED, "[]")
    again = render_stack(stack, state)
    assert [n.changed for n in again] == [False, False] and contents(again) == contents(nodes)


def test_an_edit_of_the_same_size_is_rendered_again(tmp_path):
    stack, state, nodes = render_yaml(NODES, tmp_path)
    expected = contents(nodes)
    path = nodes[0].path
    edited = expected["memo-01"].replace(b"memo-01", b"memo-99", 1)
    assert edited != expected["memo-01"] and len(edited) == len(expected["memo-01"])
    before = path.stat()
    path.write_bytes(edited)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))  # an editor, a second later
    again = render_stack(stack, state)
    assert [n.changed for n in again] == [True, False]
    assert contents(again) == expected


def test_a_memo_of_an_earlier_version_still_spares_the_templates(tmp_path):
    stack, state, nodes = render_yaml(NODES, tmp_path)
    memo = json.loads(state.read("render-memo.json"))
    state.write("render-memo.json", json.dumps({node: seen[:2] for node, seen in memo.items()}))  # no size, no mtime
    again = render_stack(stack, state)
    assert [n.changed for n in again] == [False, False] and contents(again) == contents(nodes)
    assert json.loads(state.read("render-memo.json")) == memo
