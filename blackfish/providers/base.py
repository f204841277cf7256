"""The provider contract: what boots a stack's nodes. Every provider implements every method
(there are no optional ones); `blackfish.lifecycle` drives them in the same order for all.

A provider only makes machines run with their rendered user-data. Everything after that is
provider-independent and lives elsewhere: the nodes assemble themselves from their user-data,
and `up`'s readiness step (blackfish.cluster.readiness) waits for the swarm through
`engine_endpoint()` and `ssh_argv()`.
"""

from __future__ import annotations

import abc
from typing import Callable

from blackfish.model.stack import Node, Stack
from blackfish.state import StateDir

# The one state word every provider shares: the node does not exist (anything else means it does).
NOT_CREATED = "not_created"

# progress(node_name, phase): a node entered a new phase (called from any thread).
Progress = Callable[[str, str], None]


class Provider(abc.ABC):
    name: str
    # How ssh_argv's command words reach the node: joined by spaces and parsed by the node's
    # shell, as ssh and `vagrant ssh -c` do (True), or run as they are (docker exec: False).
    ssh_uses_shell = True

    @abc.abstractmethod
    def check(self, stack: Stack, state: StateDir) -> None:
        """Preflight: raise MissingToolError (exit 3) when this machine cannot boot the stack, or
        UsageError (exit 2) for a stack it cannot boot as described. Runs before anything is
        rendered and writes nothing in the state directory (it may not even exist)."""

    @abc.abstractmethod
    def boot(self, stack: Stack, state: StateDir, *, parallel: int, provision: bool, progress: Progress) -> None:
        """Create or start every node with its rendered user-data (`nodes/<name>.user-data`);
        with provision, re-apply it to running nodes too. Boot in waves
        (blackfish.providers.waves) and return once the machines run: waiting for the swarm is
        the readiness step's job, not the provider's."""

    @abc.abstractmethod
    def status(self, stack: Stack, state: StateDir) -> list[dict]:
        """One row per node of the stack, in its order: `node`, `ip`, `roles`, `state`
        (NOT_CREATED when the node does not exist); further keys become further columns."""

    @abc.abstractmethod
    def halt(self, stack: Stack, state: StateDir) -> None:
        """Stop every node, keeping its disk, so a later `boot` brings the same nodes back."""

    @abc.abstractmethod
    def destroy(self, stack: Stack, state: StateDir) -> list[str]:
        """Remove every node and what the provider made for them (networks, volumes, machine
        records; never the PKI). Returns a human-readable name for each thing removed."""

    @abc.abstractmethod
    def remains(self, stack: Stack, state: StateDir) -> list[str]:
        """What of the stack still exists on this provider, named as `destroy` names it; empty
        after a good destroy (and for a stack never booted)."""

    @abc.abstractmethod
    def ssh_argv(self, stack: Stack, state: StateDir, node: str, command: list[str]) -> list[str]:
        """The command line that opens a shell on `node`, or runs `command` there (its output on
        stdout, its exit status as the command's)."""

    @abc.abstractmethod
    def engine_endpoint(self, stack: Stack, state: StateDir, node: Node) -> tuple[str, int]:
        """(host, port) where THIS machine reaches the node's docker engine over TLS. The
        engine's certificate names the node's IP; an endpoint at another address must still
        present that certificate."""
