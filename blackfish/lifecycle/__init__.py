"""A stack's lifecycle whatever boots it: up, status, halt, destroy, ssh (provision is `up`
that re-applies user-data to running nodes).

`up` is the ordered pipeline in pipeline.py. Every other command acts on the provider that
booted the stack (`booted` in stack.json, see blackfish.record), so only `up` needs
nodes.yml or --provider.
"""

from __future__ import annotations

import shutil

from blackfish import providers, record
from blackfish.errors import ProviderError, UsageError
from blackfish.lifecycle.pipeline import refuse_provider_switch, up, with_groups
from blackfish.model.stack import Stack
from blackfish.state import StateDir

__all__ = ["up", "status", "halt", "destroy", "ssh_argv", "booted_provider", "refuse_provider_switch",
           "status_columns", "acted_on", "with_groups"]

# The columns every provider's status has, in this order; a provider's own keys follow.
STATUS_COLUMNS = ("node", "ip", "roles", "state")


def status(stack: Stack, state: StateDir | None = None) -> list[dict]:
    """Every node of the stack (all its groups), each with its group after its name."""
    stack = stack.whole()
    return with_groups(stack, providers.get(stack.provider).status(stack, state or StateDir(stack.name)))


def halt(stack: Stack, state: StateDir | None = None) -> None:
    state = state or StateDir(stack.name)
    with state.lock():
        providers.get(stack.provider).halt(acted_on(stack), state)


def acted_on(stack: Stack) -> Stack:
    """A command given one group's nodes file acts on that group when the stack has others."""
    return stack.own_group() if len(stack.groups) > 1 else stack.whole()


def destroy(stack: Stack, state: StateDir | None = None, purge: bool = False) -> list[str]:
    """Remove every node, then check that nothing of the stack remains; return what was removed.

    Given one group of a stack with several (`destroy -f FILE`), only that group's nodes go:
    they leave the swarm, and the record keeps the other groups. The record forgets the boot
    only when nothing remains; otherwise a ProviderError (exit 1) names what survived. The
    state directory (PKI, secrets) stays unless purge."""
    state = state or StateDir(stack.name)
    target = acted_on(stack)
    if target.members:
        return _destroy_group(target, state)
    with state.lock():
        provider = providers.get(stack.provider)
        removed = provider.destroy(stack, state)
        left = provider.remains(stack, state)
        if left:
            raise ProviderError(
                f"stack {stack.name!r}: destroy could not remove {', '.join(left)}",
                detail=f"removed: {', '.join(removed)}" if removed else "removed: nothing")
        if state.exists():
            record.clear_booted(state)
        if purge:
            shutil.rmtree(state.path)
    return removed


def _destroy_group(group: Stack, state: StateDir) -> list[str]:
    from blackfish import groups
    from blackfish.cluster import swarm_members

    for role, what in (("swarm-manager", "swarm manager"), ("consul-server", "consul server")):
        if groups.others_lack(group, role):
            raise UsageError(f"group {group.group!r} holds every {what} of stack {group.name!r}: destroying it alone "
                             f"would orphan the other groups; destroy those first, or the whole stack with "
                             f"`blackfish destroy {group.name}`")
    with state.lock():
        provider = providers.get(group.provider)
        endpoint = lambda node: provider.engine_endpoint(group, state, node)  # noqa: E731
        swarm_members.demote(group, state, endpoint)
        removed = provider.destroy(group, state)
        left = provider.remains(group, state)
        if left:
            raise ProviderError(f"group {group.group!r} of stack {group.name!r}: destroy could not remove {', '.join(left)}",
                                detail=f"removed: {', '.join(removed)}" if removed else "removed: nothing")
        groups.forget(state, group)  # the machines are gone, whatever the swarm says next
        try:
            removed += swarm_members.remove(group, state, endpoint)
        except ProviderError as exc:
            raise ProviderError(
                f"group {group.group!r} of stack {group.name!r} destroyed, but its nodes are still in the swarm's "
                f"node list: {exc.message}; remove them with `blackfish {group.name} node rm --force NODE`",
                detail=f"removed: {', '.join(removed)}") from exc
    return removed


def ssh_argv(stack: Stack, node: str, command: list[str], state: StateDir | None = None) -> list[str]:
    state = state or StateDir(stack.name)
    return providers.get(stack.provider).ssh_argv(stack, state, node, command)


def booted_provider(state: StateDir) -> str | None:
    """The provider recorded by the last `up` (None when nothing is booted)."""
    booted = record.booted(state)
    return booted.provider if booted else None


def status_columns(rows: list[dict]) -> list[str]:
    """node, ip, roles, state, then every other key the provider reported, in order."""
    columns = list(STATUS_COLUMNS)
    if any("group" in row for row in rows):
        columns.insert(1, "group")
    for row in rows:
        columns += [key for key in row if key not in columns]
    return columns
