"""Groups and the stack's record: what the other nodes files of a stack already booted.

`context_for(config, path)` reads the stack's record (stack.json) and hands
blackfish.model.groups the other groups' nodes and shared settings, so a nodes file is
checked as a group of its stack; `recorded(name)` is that record as a Stack for `plan`.
`forget(state, stack)` drops a destroyed group from the record. See docs/groups.md.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from blackfish import home
from blackfish.model.groups import Context, group_name

if TYPE_CHECKING:
    from blackfish.model.stack import Stack
    from blackfish.state import StateDir
# state, record and model.stack are imported where a record is read: `blackfish validate` of
# a new stack's file reads none (bench/bench_cli.py).


def recorded(stack_name: str) -> Stack | None:
    """The stack as its record has it (None for a stack never rendered)."""
    if not home.has_record(stack_name):
        return None
    from blackfish import record
    from blackfish.model.stack import Stack
    from blackfish.state import StateDir

    found = record.read_if_any(StateDir(stack_name))
    return Stack.from_record(found.plan) if found else None


def context_for(config, path: str) -> Context:
    """The other groups of the file's stack, from its record (an empty Context for a new stack)."""
    stack = recorded(config.stack)
    foreign = _foreign_ips(config.stack) if config.consul_joinip else {}
    if stack is None:
        return Context(foreign=foreign)
    from blackfish.state import StateDir

    state = StateDir(config.stack)
    return context_of(stack, group_name(config.group, path), consul_key=_stored(state, "consul-key"),
                      registry_secret=_stored(state, "registry-secret"), foreign=foreign)


def context_of(stack: Stack, group: str, **secrets_and_foreign) -> Context:
    """The Context of `group` as one group of the recorded `stack`."""
    others = tuple(n for n in stack.all_nodes if n.group is not None and n.group != group)
    if not others:
        return Context(foreign=secrets_and_foreign.get("foreign", {}))
    return Context(others=others, dc=stack.dc, admin_network=stack.admin_network, pki_key=stack.pki_key,
                   name_constraints=stack.name_constraints, **secrets_and_foreign)


def _stored(state: StateDir, name: str) -> str | None:
    data = state.read(f"secrets/{name}")
    return data.decode().strip() if data else None


def _foreign_ips(stack_name: str) -> dict[str, str]:
    """ip -> stack, for the nodes of every other recorded stack."""
    found: dict[str, str] = {}
    base = home.base()
    for other in sorted(os.listdir(base)) if os.path.isdir(base) else ():
        if other == stack_name or not home.has_record(other):
            continue
        try:
            stack = recorded(other)
        except Exception:  # a damaged record of another stack is not this file's problem
            continue
        for node in stack.all_nodes if stack else ():
            found.setdefault(node.ip, other)
    return found


def others_lack(stack: Stack, role: str) -> bool:
    """True when the stack's other groups have no node with `role` (destroying this group would orphan them)."""
    others = [n for n in stack.all_nodes if n.group != stack.group]
    return bool(others) and not any(role in n.roles for n in others)


def forget(state: StateDir, stack: Stack) -> None:
    """After `destroy -f FILE`: the record keeps the other groups only, and their boot."""
    import dataclasses

    from blackfish import record

    remaining = dataclasses.replace(stack, nodes=tuple(n for n in stack.all_nodes if n.group != stack.group), members=())
    with state.lock():
        found = record.read(state)
        booted = found.booted
        if booted is not None:
            kept = {n.name for n in remaining.nodes}
            booted = record.Booted(provider=booted.provider, nodes=tuple(n for n in booted.nodes if n in kept), at=booted.at)
        plan = {**found.plan, "nodes": remaining.to_record()["nodes"]}
        state.save_record(record.Record(plan=plan, booted=booted).to_json())
