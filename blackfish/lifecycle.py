"""A stack's lifecycle whatever boots it: up, status, halt, destroy, ssh (provision is `up`
that re-applies user-data to running nodes).

`up` is one ordered pipeline: the provider's own checks (they write nothing, so a machine
that cannot boot the stack leaves the state directory exactly as it was), then under the
state lock: render (PKI, per-node user-data, and the plan with the provider in
stack.json), then the provider's up. Later commands read the provider from stack.json, so
only `up` needs nodes.yml or --provider.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from blackfish import providers
from blackfish.errors import UsageError
from blackfish.model.stack import Stack
from blackfish.state import StateDir

# The columns every provider's status has, in this order; a provider's own keys follow.
STATUS_COLUMNS = ("node", "ip", "roles", "state")


def up(stack: Stack, *, state: StateDir | None = None, parallel: int = 1, provision: bool = False,
       templates: Path | None = None, progress=None) -> list[dict]:
    """Boot (or re-provision) every node; return the nodes' status afterwards."""
    state = state or StateDir(stack.name)
    if templates is not None:
        stack = dataclasses.replace(stack, templates=Path(templates))
    provider = providers.get(stack.provider)
    refuse_provider_switch(stack, state)
    check = getattr(provider, "check", None)
    if check is not None:
        check(stack, state, progress=progress)
    from blackfish.render import render_stack

    with state.lock():
        _each(stack, progress, "rendering user-data")
        render_stack(stack, state, templates)
        _each(stack, progress, "user-data rendered")  # and the plan, with this provider, in stack.json
        provider.up(stack, state, parallel=parallel, provision=provision, progress=progress)
    return provider.status(stack, state)


def status(stack: Stack, state: StateDir | None = None) -> list[dict]:
    return providers.get(stack.provider).status(stack, state or StateDir(stack.name))


def halt(stack: Stack, state: StateDir | None = None) -> None:
    state = state or StateDir(stack.name)
    with state.lock():
        providers.get(stack.provider).halt(stack, state)


def destroy(stack: Stack, state: StateDir | None = None, purge: bool = False) -> None:
    """Remove every node; the state directory (PKI, secrets) stays unless purge."""
    state = state or StateDir(stack.name)
    with state.lock():
        providers.get(stack.provider).destroy(stack, state)
        if purge:
            shutil.rmtree(state.path)


def ssh_argv(stack: Stack, node: str, command: list[str], state: StateDir | None = None) -> list[str]:
    state = state or StateDir(stack.name)
    return providers.get(stack.provider).ssh_argv(stack, state, node, command)


def booted_provider(state: StateDir) -> str | None:
    """The provider recorded by the last `up` (None when the stack never booted)."""
    return state.record().get("provider") if state.exists() else None


def refuse_provider_switch(stack: Stack, state: StateDir) -> None:
    """A stack lives on one provider at a time: booting it elsewhere while nodes of the
    recorded provider still exist would give two clusters one PKI and one set of IPs."""
    recorded = booted_provider(state)
    if recorded is None or recorded == stack.provider:
        return
    previous = Stack.from_record(state.record())
    alive = [row["node"] for row in providers.get(recorded).status(previous, state) if row.get("state") != providers.NOT_CREATED]
    if alive:
        raise UsageError(
            f"stack {stack.name!r} has nodes on the {recorded} provider ({', '.join(alive)}); "
            f"run `blackfish destroy {stack.name}` first, or boot it with --provider {recorded}"
        )


def _each(stack: Stack, progress, phase: str) -> None:
    for node in stack.nodes:
        if progress:
            progress(node.name, phase)


def status_columns(rows: list[dict]) -> list[str]:
    """node, ip, roles, state, then every other key the provider reported, in order."""
    columns = list(STATUS_COLUMNS)
    for row in rows:
        columns += [key for key in row if key not in columns]
    return columns
