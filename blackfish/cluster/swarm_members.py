"""A group leaving the swarm (`destroy -f FILE`): its managers demoted first, its node entries
removed afterwards, through a manager of the stack's other groups over TLS.

Demoting before the machines go keeps the raft quorum of the managers that stay; removing the
entries afterwards leaves `docker node ls` with the nodes that exist, so the swarm the other
groups keep is healthy, not carrying Down nodes forever.
"""

from __future__ import annotations

from blackfish.cluster import engines
from blackfish.errors import ProviderError
from blackfish.model.stack import Node, Stack
from blackfish.state import StateDir


def _staying_manager(group: Stack, state: StateDir, endpoint):
    """A DockerClient on a manager of the other groups that leads or reaches the swarm's leader."""
    errors = []
    for node in group.all_nodes:
        if node.group == group.group or not node.is_manager:
            continue
        try:
            engine = engines.client(node, state, at=endpoint(node))
            if (engine.info().get("Swarm") or {}).get("ControlAvailable"):
                return engine
            engine.close()
            errors.append(f"{node.name}: not a swarm manager")
        except Exception as exc:  # any failure: try the next manager
            errors.append(f"{node.name}: {engines.describe_error(exc)}")
    raise ProviderError(f"no manager of stack {group.name!r} outside group {group.group!r} answers: " + "; ".join(errors))


def _entries(engine, nodes: list[Node]) -> list[dict]:
    names = {n.name for n in nodes}
    return [n for n in engine.api.nodes() if (n.get("Description") or {}).get("Hostname") in names]


def demote(group: Stack, state: StateDir, endpoint) -> None:
    """Demote the group's managers (a no-op for a group of workers)."""
    managers = [n for n in group.nodes if n.is_manager]
    if not managers:
        return
    engine = _staying_manager(group, state, endpoint)
    try:
        for entry in _entries(engine, managers):
            spec = entry["Spec"]
            if spec.get("Role") == "manager":
                engine.api.update_node(entry["ID"], entry["Version"]["Index"], {**spec, "Role": "worker"})
    finally:
        engine.close()


def remove(group: Stack, state: StateDir, endpoint) -> list[str]:
    """Remove the group's (now gone) nodes from the swarm's node list; return what was removed."""
    engine = _staying_manager(group, state, endpoint)
    removed = []
    try:
        for entry in _entries(engine, list(group.nodes)):
            engine.api.remove_node(entry["ID"], force=True)
            removed.append(f"swarm node {entry['Description']['Hostname']} ({entry['ID'][:12]})")
    finally:
        engine.close()
    return removed
