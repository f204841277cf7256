"""stack.json: what blackfish knows about a stack between commands.

    {"schema-version": 1,
     "plan":   Stack.to_record(): the stack as last rendered from nodes.yml (no secrets),
     "booted": {"provider": "docker", "at": "2026-11-30T09:00:00Z", "nodes": ["m1", ...]} | null}

`plan` is written by whatever renders (render, up, certs); `booted` only by `up` (before the
provider boots anything, so even an interrupted `up` is remembered) and cleared only by
`destroy` once nothing remains. Commands that act on booted machines (status, halt, destroy,
ssh) use `booted.provider`, whatever nodes.yml says now. Older records are migrated when
read (pipx's metadata versions are the model); the file is rewritten at the next write.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from blackfish.errors import BlackfishError
from blackfish.model.stack import Stack
from blackfish.state import StateDir

SCHEMA_VERSION = 1
VERSION_KEY = "schema-version"


@dataclass(frozen=True)
class Booted:
    provider: str
    nodes: tuple[str, ...]
    at: str | None = None  # UTC, ISO 8601; None when migrated from a record that did not say

    def to_json(self) -> dict:
        return {"provider": self.provider, "nodes": list(self.nodes), "at": self.at}


@dataclass(frozen=True)
class Record:
    plan: dict
    booted: Booted | None = None

    def to_json(self) -> dict:
        return {VERSION_KEY: SCHEMA_VERSION, "plan": self.plan,
                "booted": self.booted.to_json() if self.booted else None}


def migrate(raw: dict) -> dict:
    """Any stack.json blackfish ever wrote, as the current schema.

    Version 0 (no schema-version) was the plan itself, with `provider` written by every
    render: the last provider named, which is the one that booted the stack unless a later
    render named another. It is taken as booted (all its nodes, time unknown): claiming too
    much costs a destroy that finds nothing; claiming too little would forget machines."""
    version = raw.get(VERSION_KEY, 0)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise BlackfishError(f"stack.json has schema version {version!r}; this blackfish reads up to "
                             f"{SCHEMA_VERSION} (upgrade blackfish)")
    if version == 0:
        provider = raw.get("provider")
        nodes = [n.get("name") for n in raw.get("nodes") or [] if isinstance(n, dict)]
        raw = {VERSION_KEY: 1, "plan": dict(raw),
               "booted": {"provider": provider, "nodes": nodes, "at": None} if provider else None}
    return raw


def read(state: StateDir) -> Record:
    """The stack's record, migrated; UsageError when the stack has no state."""
    raw = migrate(state.record())
    plan, booted = raw.get("plan"), raw.get("booted")
    if not isinstance(plan, dict) or not (booted is None or isinstance(booted, dict)):
        raise BlackfishError(f"{state.file('stack.json')}: damaged (no plan); remove it and run `blackfish up` again")
    try:
        return Record(plan=plan, booted=Booted(provider=booted["provider"], nodes=tuple(booted["nodes"]),
                                               at=booted.get("at")) if booted else None)
    except (KeyError, TypeError) as exc:
        raise BlackfishError(f"{state.file('stack.json')}: damaged (booted: {exc}); "
                             "remove it and run `blackfish up` again") from None


def read_if_any(state: StateDir) -> Record | None:
    return read(state) if state.exists() else None


def booted(state: StateDir) -> Booted | None:
    """What the last `up` booted, until `destroy` (None when nothing is booted)."""
    found = read_if_any(state)
    return found.booted if found else None


def stack(state: StateDir) -> Stack:
    """The recorded Stack, on the provider that booted it (the planned one if none did)."""
    found = read(state)
    planned = Stack.from_record(found.plan)
    return dataclasses.replace(planned, provider=found.booted.provider) if found.booted else planned


def save_plan(state: StateDir, stack: Stack) -> None:
    """Record the plan; what booted the stack stays as it is."""
    with state.lock():
        found = read_if_any(state)
        state.save_record(Record(plan=stack.to_record(), booted=found.booted if found else None).to_json())


def save_booted(state: StateDir, provider: str, nodes: list[str]) -> Booted:
    """`up` only: `provider` boots `nodes` (added to the nodes it booted before)."""
    with state.lock():
        found = read(state)
        before = found.booted.nodes if found.booted and found.booted.provider == provider else ()
        booted = Booted(provider=provider, nodes=tuple(dict.fromkeys([*before, *nodes])),
                        at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        state.save_record(Record(plan=found.plan, booted=booted).to_json())
        return booted


def clear_booted(state: StateDir) -> None:
    """`destroy` only, once nothing of the stack remains."""
    with state.lock():
        found = read(state)
        state.save_record(Record(plan=found.plan, booted=None).to_json())
