"""Consul's ACL tokens, one per role, generated once and kept under secrets/ (0600).

    consul-token-management       consul servers (and the operator): everything; it is the
                                  servers' `initial_management` token
    consul-agent-tokens.json      every node's consul agent token ({node: token}): its own
                                  node (a node identity)
    consul-token-registrator      registrator on every node: register services, read nodes
    consul-token-consul-template  consul-template on lb nodes: read services and nodes

Consul runs with `default_policy = "deny"`: a request without one of these tokens gets
nothing. A node's user-data carries only the tokens of what runs on it; consul servers also
carry the others, because their consul-acl-setup creates them (docs/security.md).

The agents' tokens share one file: a file per node was a fifth of the files a first render
creates (docs/performance.md). Blackfish before that kept `consul-token-agent-<node>`; those
tokens are taken over, and each such file goes once the shared file on disk holds its token.
"""

from __future__ import annotations

import json
import os
import re
import uuid

from blackfish.errors import UsageError
from blackfish.model.stack import Stack
from blackfish.state import SECRETS, StateDir

ROLES = ("management", "registrator", "consul-template")
AGENTS = f"{SECRETS}/consul-agent-tokens.json"
_LEGACY_AGENT = "consul-token-agent-"  # secrets/consul-token-agent-<node>
# Consul's SecretIDs are UUIDs.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def ensure(stack: Stack, state: StateDir) -> dict:
    """{"management": .., "registrator": .., "consul-template": .., "agents": {node name: ..}}."""
    return {**{role: _token(state, f"consul-token-{role}") for role in ROLES}, "agents": _agent_tokens(stack, state)}


def _token(state: StateDir, name: str) -> str:
    """secrets/<name>, checked like every stored secret (a new one when missing)."""
    from blackfish.render import checked_secret

    return checked_secret(state, name, None, lambda: str(uuid.uuid4()), (_UUID, "a lowercase UUID"))


def _agent_tokens(stack: Stack, state: StateDir) -> dict[str, str]:
    """The stack's nodes' agent tokens, in nodes.yml's order. Tokens of departed nodes stay in
    the file: a node that comes back keeps its identity."""
    stored = _stored_agents(state)
    legacy = _legacy_agents(state)
    tokens = dict(stored)
    for node in stack.all_nodes:
        if node.name not in tokens:
            tokens[node.name] = legacy.get(node.name) or str(uuid.uuid4())
    if tokens != stored:
        state.write(AGENTS, json.dumps(tokens, indent=1, sort_keys=True) + "\n", mode=0o600)
    for name, value in legacy.items():
        if stored.get(name) == value:  # on disk in the shared file since an earlier run
            state.remove(f"{SECRETS}/{_LEGACY_AGENT}{name}")
    return {node.name: tokens[node.name] for node in stack.all_nodes}


def _stored_agents(state: StateDir) -> dict[str, str]:
    data = state.read(AGENTS)
    if data is None:
        return {}
    try:
        tokens = json.loads(data)
    except ValueError:
        tokens = None
    if not isinstance(tokens, dict) or not all(isinstance(v, str) and _UUID.fullmatch(v) for v in tokens.values()):
        raise UsageError(f"{state.file(AGENTS)}: not valid (must be a JSON object of node names and lowercase "
                         "UUIDs); remove the file to have new agent tokens generated")
    return tokens


def _legacy_agents(state: StateDir) -> dict[str, str]:
    """{node: token} of the per-node files older versions wrote (one listing, not a lookup per node)."""
    try:
        names = [n for n in os.listdir(state.file(SECRETS)) if n.startswith(_LEGACY_AGENT)]
    except FileNotFoundError:
        return {}
    return {name[len(_LEGACY_AGENT):]: _token(state, name) for name in names}
