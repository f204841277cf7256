"""Several nodes files, one stack: the checks that need the stack's other groups.

A stack may be described by several nodes files with the same `stack:` (the seed's
`nodes_<stack>_control.yml`, `nodes_<stack>_ssd.yml`, ...). Each file is a *group*: named by
its `group:` key, else by its file name (`control.yml` -> `control`). The first `up` creates
the stack (CA, secrets, swarm); a later file adds its group to it. What the other groups are is
read from the stack's record by blackfish.groups and handed in here as a Context; this module
only compares, so every problem is reported at its place in the file being loaded
(config.parse calls check()). With no other group the same checks cover a single file.
"""

from __future__ import annotations

import os
import re
from types import MappingProxyType
from typing import Mapping, NamedTuple

_GROUP = re.compile(r"[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?")


class Context(NamedTuple):
    """What the stack's record says about its other groups (empty for a new stack). A
    NamedTuple: `dataclasses` imports `inspect`, a sixth of `blackfish validate` (bench_cli.py)."""

    others: tuple = ()  # their recorded nodes (blackfish.model.stack.Node)
    dc: str | None = None
    admin_network: str | None = None
    pki_key: str | None = None
    name_constraints: bool | None = None
    # The stack's stored secrets (a group may repeat them, never change them).
    consul_key: str | None = None
    registry_secret: str | None = None
    # ip -> name of another stack that has a node there (for consul-joinip).
    foreign: Mapping[str, str] = MappingProxyType({})


def group_problem(name: str) -> str | None:
    if _GROUP.fullmatch(name):
        return None
    return "must be lowercase letters, digits, '.', '-' and '_' (at most 63), starting and ending with a letter or digit"


def group_name(given: str | None, path: str | os.PathLike | None) -> str:
    """The group's name: `group:`, else the file's name without its suffix, made a valid name."""
    if given:
        return given
    stem = os.path.splitext(os.path.basename(path))[0] if path else "nodes"
    stem = re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("._-")
    return stem[:63].strip("._-") or "nodes"


def check(config, doc, context: Context, bad, counts: bool = True) -> None:
    """Problems of this file as a group of its stack; `bad(path, message, key=, warning=)` reports one.
    `counts`: also count managers and servers (not worth it while the file has other errors)."""
    from blackfish.model.config import default_roles
    from blackfish.model.registry_storage import has_shared_store, registry_nodes, registry_role_path, shared_storage_problem
    from blackfish.model.naming import default_node_name

    others = context.others
    if others:
        group = others[0].group
        for key, mine, theirs in (("dc", config.dc, context.dc), ("admin-network", config.admin_network, context.admin_network)):
            if theirs is not None and mine != theirs:
                bad([key], f"is {mine!r}, but stack {config.stack!r} has {theirs!r} (group {group!r}); "
                    "every group of a stack shares it")
        if context.pki_key is not None and (config.pki.key, config.pki.name_constraints) != (context.pki_key, context.name_constraints):
            bad(["pki"], f"differs from stack {config.stack!r}'s (key {context.pki_key}, name-constraints "
                f"{str(context.name_constraints).lower()}): every group's certificates come from its one CA")
        for key, mine, stored in (("consul-key", config.consul_key, context.consul_key),
                                  ("registry-secret", config.registry_secret, context.registry_secret)):
            if mine is not None and stored is not None and mine != stored:
                bad([key], f"differs from the one stack {config.stack!r} already uses: every group shares it "
                    "(leave it out to use the stack's)")

    taken_names = {m.name: m for m in others}
    taken_ips = {m.ip: m for m in others}
    for i, spec in enumerate(config.nodes):
        name = spec.name or default_node_name(config.stack, i)
        if (member := taken_names.get(name)) is not None:
            bad(["nodes", i] + (["name"] if spec.name else []),
                f"node name {name!r} is taken by group {member.group!r} of stack {config.stack!r}")
        if (member := taken_ips.get(spec.ip)) is not None:
            bad(["nodes", i, "ip"], f"{spec.ip} is node {member.name!r} of group {member.group!r} of stack {config.stack!r}")

    roles = [set(default_roles(config, i)) for i in range(len(config.nodes))] + [set(m.roles) for m in others]
    managers = sum("swarm-manager" in r for r in roles)
    servers = sum("consul-server" in r for r in roles)
    where = " in this file or the stack's other groups" if others else ""
    if config.nodes and counts:
        if managers == 0:
            bad(["nodes"], f"no swarm manager{where}: give at least one node the role 'swarm-manager'", key=True)
        elif managers % 2 == 0:
            bad(["nodes"], f"{managers} swarm managers{where.replace(' in', ' with')}: an even number tolerates no more failures than one fewer; use an odd number", key=True, warning=True)
        if servers == 0:
            bad(["nodes"], f"no consul server{where}: give at least one node the role 'consul-server'", key=True)
        elif servers % 2 == 0:
            bad(["nodes"], f"{servers} consul servers{where.replace(' in', ' with')}: an even number tolerates no more failures than one fewer; use an odd number", key=True, warning=True)

    mine = registry_nodes(config)
    theirs = [m for m in others if "docker-registry" in m.roles]
    if mine and len(mine) + len(theirs) > 1 and not has_shared_store(config):
        bad(registry_role_path(config, mine[1] if len(mine) > 1 else mine[0]),
            shared_storage_problem(config.stack, len(mine) + len(theirs)))

    if config.consul_joinip is not None and counts:
        _check_joinip(config, context, bad)


def _check_joinip(config, context: Context, bad) -> None:
    """consul-joinip is what the seed used it for: joining the stack's existing servers (in its other groups)."""
    ip = config.consul_joinip
    servers = [m for m in context.others if "consul-server" in m.roles]
    if any(m.ip == ip for m in servers):
        return
    if ip in context.foreign:
        other = context.foreign[ip]
        bad(["consul-joinip"], f"{ip} is a node of stack {other!r}, not of {config.stack!r}: each stack has its own CA "
            f"and gossip key, and consul checks server.<dc>.{config.stack} against this stack's CA, so it can only join "
            f"its own servers; to add these nodes to stack {other!r}, write `stack: {other}` in this file")
    elif servers:
        bad(["consul-joinip"], f"{ip} is not a consul server of stack {config.stack!r}; its servers: "
            f"{', '.join(f'{m.ip} ({m.name})' for m in servers)}")
    else:
        bad(["consul-joinip"], f"names a consul server of the other groups of stack {config.stack!r}, and none is recorded; "
            "run `blackfish up` with the file that declares them first (or leave consul-joinip out: every group "
            "joins the stack's consul servers anyway)")
