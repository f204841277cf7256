"""A recorded stack with its real PKI, for the docker proxy's tests (no nodes.yml on disk needed)."""

from __future__ import annotations

from blackfish.model.config import parse
from blackfish.pki import ensure_pki
from blackfish.model.stack import Stack, plan
from blackfish.state import StateDir


def recorded_stack(name: str, ips: tuple[str, ...], network: str, pki: bool = True) -> tuple[Stack, StateDir]:
    """Stack `name` with a node at each ip (the first three swarm managers), saved in its state
    directory under $BLACKFISH_HOME the way `blackfish up` leaves it, certificates included."""
    nodes = "".join(f"  - ip: {ip}\n" for ip in ips)
    stack = plan(parse(f"stack: {name}\nprovider: docker\nadmin-network: {network}\nnodes:\n{nodes}").config)
    state = StateDir(name)
    state.save_record(stack.to_record())
    if pki:
        ensure_pki(stack, state)
    return stack, state


def node_tls(state: StateDir, node) -> dict:
    """The ca/cert/key arguments that start a node's dockerd as its daemon.json does: its
    certificate, and the clients CA to verify callers with."""
    return {"ca": state.file("clients-ca.pem"), "cert": state.file(f"nodes/{node.name}.cert.pem"),
            "key": state.file(f"nodes/{node.name}.key.pem")}
