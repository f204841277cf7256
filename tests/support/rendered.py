"""Helpers for user-data tests: render a stack from nodes.yml text, read a user-data back.

    stack, state, nodes = render_yaml(NODES_YML, tmp_path)
    doc = user_data(nodes[0])                 # the parsed #cloud-config
    files(doc)["/etc/blackfish/swarm.env"]    # write_files by path
    units(doc)["blackfish-swarm.service"]     # unit content by name (the entry that has content)
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml

from blackfish.model import config
from blackfish.render import RenderedNode, render_stack
from blackfish.model.stack import Stack, plan
from blackfish.state import StateDir


def render_yaml(text: str, tmp_path: Path, templates: Path | None = None) -> tuple[Stack, StateDir, list[RenderedNode]]:
    """Plan the stack of a nodes.yml text and render it into a state directory under tmp_path."""
    source = tmp_path / "nodes.yml"
    source.write_text(textwrap.dedent(text))
    stack = plan(config.load(source).config, source=source)
    state = StateDir(stack.name, tmp_path / "home")
    return stack, state, render_stack(stack, state, templates)


def user_data(node: RenderedNode) -> dict:
    return yaml.safe_load(node.path.read_text())


def files(doc: dict) -> dict[str, str]:
    return {f["path"]: f["content"] for f in doc["write_files"]}


def units(doc: dict) -> dict[str, str]:
    return {u["name"]: u["content"] for u in doc["coreos"]["units"] if "content" in u}


def parse_env_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines the way systemd's EnvironmentFile= reads the ones blackfish writes."""
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        env[key] = value
    return env
