"""Is a stack's swarm as planned? Every engine answering over TLS, every node a member in its role.

`snapshot()` asks every node's engine for /info at once (mutual TLS, the stack's client
certificate, at the address its provider's `engine_endpoint` gives) and one active manager
for the swarm's node list; `Snapshot.problems()` says, per planned node, what is not yet
right. `wait()` polls until nothing is, or the time is up. The readiness step of `up`
(blackfish.lifecycle.pipeline) calls wait() for every provider; `blackfish check` reports a
snapshot.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from blackfish.cluster import engines
from blackfish.errors import ProviderError
from blackfish.model.stack import Node, Stack
from blackfish.state import StateDir

# A swarm forms in a second or two: a coarser poll would be most of the wait (bench/bench_cluster.py).
POLL_INTERVAL = 0.25
# endpoint(node) -> (host, port): where this machine reaches the node's engine (Provider.engine_endpoint).
Endpoint = Callable[[Node], tuple[str, int]]


@dataclass(frozen=True)
class Member:
    id: str
    hostname: str
    role: str  # manager | worker
    state: str  # ready | down | unknown | disconnected
    availability: str


@dataclass
class Snapshot:
    stack: Stack
    infos: dict[str, dict] = field(default_factory=dict)  # node name -> engine /info
    errors: dict[str, str] = field(default_factory=dict)  # node name -> why its engine did not answer
    members: list[Member] | None = None  # the swarm's nodes, from an active manager
    members_from: str | None = None
    endpoints: dict[str, str] = field(default_factory=dict)  # node name -> tcp://host:port asked

    def member(self, node: Node) -> Member | None:
        """The node's ready entry (a replaced node can leave stale `down` entries behind)."""
        entries = [m for m in self.members or [] if m.hostname == node.name]
        return next((m for m in entries if m.state == "ready"), entries[0] if entries else None)

    def problem(self, node: Node) -> str | None:
        if node.name in self.errors:
            return f"engine {self.endpoints.get(node.name, node.docker_host)} does not answer over TLS: {self.errors[node.name]}"
        swarm = self.infos[node.name].get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active":
            return f"not in the swarm yet (swarm state {swarm.get('LocalNodeState') or 'unknown'})"
        if self.members is None:
            return "no manager answers with the swarm's node list"
        member = self.member(node)
        want = "manager" if node.is_manager else "worker"
        if member is None:
            return f"not in the node list of the swarm (asked {self.members_from})"
        if member.state != "ready":
            return f"swarm node {member.id[:12]} is {member.state}"
        if member.role != want:
            return f"is a swarm {member.role}, planned as a {want}"
        return None

    def problems(self) -> dict[str, str]:
        return {n.name: p for n in self.stack.nodes if (p := self.problem(n)) is not None}


def snapshot(stack: Stack, state: StateDir, endpoint: Endpoint, timeout: float = 5.0) -> Snapshot:
    snap = Snapshot(stack)
    at = {node.name: endpoint(node) for node in stack.nodes}
    snap.endpoints = {name: engines.At(*where).docker_host for name, where in at.items()}

    def ask(node: Node):
        try:
            return node, engines.info(node, state, timeout, at[node.name]), None
        except Exception as exc:  # any failure means: this engine is not usable now
            return node, None, engines.describe_error(exc)

    with ThreadPoolExecutor(max_workers=max(1, len(stack.nodes))) as pool:
        for node, info, error in pool.map(ask, stack.nodes):
            if error is None:
                snap.infos[node.name] = info
            else:
                snap.errors[node.name] = error
    for node in stack.nodes:
        swarm = (snap.infos.get(node.name) or {}).get("Swarm") or {}
        if swarm.get("LocalNodeState") == "active" and swarm.get("ControlAvailable"):
            try:
                snap.members = list_members(node, state, timeout, at[node.name])
                snap.members_from = node.name
                break
            except Exception:  # a manager without quorum cannot list nodes; try the next
                continue
    return snap


def list_members(node: Node, state: StateDir, timeout: float = 5.0, at: tuple[str, int] | None = None) -> list[Member]:
    engine = engines.client(node, state, timeout, at)
    try:
        return [
            Member(
                id=n["ID"],
                hostname=n.get("Description", {}).get("Hostname", ""),
                role=n.get("Spec", {}).get("Role", ""),
                state=n.get("Status", {}).get("State", "unknown"),
                availability=n.get("Spec", {}).get("Availability", ""),
            )
            for n in engine.api.nodes()
        ]
    finally:
        engine.close()


def wait(stack: Stack, state: StateDir, endpoint: Endpoint, timeout: float, progress=None, diagnose=None) -> Snapshot:
    """Poll until every node is ready; raise ProviderError naming each node that is not, and why.

    `progress(node, phase)` hears each node's phase as it changes; `diagnose(node_name) ->
    str | None` adds what can be learnt inside a late node (its failing unit's journal, say)."""
    deadline = time.monotonic() + timeout
    reported: dict[str, str] = {}
    while True:
        snap = snapshot(stack, state, endpoint)
        problems = snap.problems()
        if progress:
            for node in stack.nodes:
                phase = "ready" if node.name not in problems else _phase(problems[node.name])
                if reported.get(node.name) != phase:
                    reported[node.name] = phase
                    progress(node.name, phase)
        if not problems:
            return snap
        if time.monotonic() >= deadline:
            lines = []
            for name, problem in problems.items():
                extra = diagnose(name) if diagnose else None
                if extra:
                    lines.append(f"{name}:")
                    lines.extend("  " + line for line in extra.rstrip().splitlines())
            lines.append(f"The nodes keep trying: `blackfish check {stack.name}` tells when they are ready, and "
                         "$BLACKFISH_UP_TIMEOUT (seconds) gives `up` longer, as slow machines (VMs without KVM) need.")
            raise ProviderError(
                f"stack {stack.name!r}: {len(problems)} node(s) not ready after {timeout:.0f} s: "
                + "; ".join(f"{name}: {problem}" for name, problem in problems.items()),
                detail="\n".join(lines),
            )
        time.sleep(POLL_INTERVAL)


def _phase(problem: str) -> str:
    if problem.startswith("engine"):
        return "waiting for its engine (TLS)"
    return "joining the swarm"
