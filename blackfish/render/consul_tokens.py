"""Consul's ACL tokens, one per role, generated once and kept under secrets/ (0600).

    consul-token-management       consul servers (and the operator): everything; it is the
                                  servers' `initial_management` token
    consul-token-agent-<node>     each node's consul agent: its own node (a node identity)
    consul-token-registrator      registrator on every node: register services, read nodes
    consul-token-consul-template  consul-template on lb nodes: read services and nodes

Consul runs with `default_policy = "deny"`: a request without one of these tokens gets
nothing. A node's user-data carries only the tokens of what runs on it; consul servers also
carry the others, because their consul-acl-setup creates them (docs/security.md).
"""

from __future__ import annotations

import re
import uuid

from blackfish.model.stack import Stack
from blackfish.state import StateDir

ROLES = ("management", "registrator", "consul-template")
# Consul's SecretIDs are UUIDs.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def ensure(stack: Stack, state: StateDir) -> dict:
    """{"management": .., "registrator": .., "consul-template": .., "agents": {node name: ..}}."""
    from blackfish.render import checked_secret

    def token(name: str) -> str:
        return checked_secret(state, f"consul-token-{name}", None, lambda: str(uuid.uuid4()), (_UUID, "a lowercase UUID"))

    return {**{role: token(role) for role in ROLES}, "agents": {n.name: token(f"agent-{n.name}") for n in stack.all_nodes}}
