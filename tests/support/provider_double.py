"""A provider double for the lifecycle's unit tests: nodes that exist in a dict, every call
noted. It implements the whole Provider contract (so the ABC accepts it); its engines live at
a loopback port where nothing listens, so the readiness step really runs and really fails.
"""

from __future__ import annotations

import socket

from blackfish.errors import MissingToolError
from blackfish.providers.base import NOT_CREATED, Provider


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ProviderDouble(Provider):
    def __init__(self, name: str, fail_check: bool = False, stuck: tuple[str, ...] = ()):
        self.name = name
        self.fail_check = fail_check
        self.stuck = stuck  # nodes destroy() cannot remove
        self.calls: list[tuple] = []
        self.nodes: dict[str, str] = {}
        self.port = closed_port()

    def check(self, stack, state):
        self.calls.append(("check", state.path.exists()))
        if self.fail_check:
            raise MissingToolError(f"{self.name} is missing", hint="install it")

    def boot(self, stack, state, *, parallel, provision, progress):
        booted = state.record()["booted"]  # recorded before the boot starts
        self.calls.append(("boot", parallel, provision, state.file(f"nodes/{stack.nodes[0].name}.user-data").is_file(),
                           booted["provider"]))
        for node in stack.nodes:
            progress(node.name, "running")
            self.nodes[node.name] = "running"

    def status(self, stack, state):
        return [{"node": n.name, "ip": n.ip, "roles": list(n.roles), "state": self.nodes.get(n.name, NOT_CREATED)}
                for n in stack.nodes]

    def halt(self, stack, state):
        self.nodes = {name: "stopped" for name in self.nodes}

    def destroy(self, stack, state):
        removed = [f"machine {name}" for name in self.nodes if name not in self.stuck]
        self.nodes = {name: s for name, s in self.nodes.items() if name in self.stuck}
        return removed

    def remains(self, stack, state):
        return [f"machine {name}" for name in self.nodes]

    def ssh_argv(self, stack, state, node, command):
        self.calls.append(("ssh", node, command[0] if command else None))
        return ["true"]  # the node says nothing: its units are unknown

    def engine_endpoint(self, stack, state, node):
        self.calls.append(("endpoint", node.name))
        return "127.0.0.1", self.port
