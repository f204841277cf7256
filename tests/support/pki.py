"""Helpers for PKI tests: small stacks planned from real nodes.yml text, file snapshots."""

from __future__ import annotations

import os
from pathlib import Path

from blackfish.model import config
from blackfish.model.stack import Stack, plan


def stack_yaml(name: str = "s", network: str = "10.241.0.0/24", ips: tuple[str, ...] = ("10.241.0.11", "10.241.0.12", "10.241.0.13"),
               key: str = "ecdsa-p256", name_constraints: bool = True, registry: int | None = 0) -> str:
    """A nodes.yml: node i at ips[i], names <name>-01.., the first one a registry."""
    lines = [f"stack: {name}", "dc: dc1", "provider: docker", f"admin-network: {network}",
             "pki:", f"  key: {key}", f"  name-constraints: {str(name_constraints).lower()}", "nodes:"]
    for i, ip in enumerate(ips):
        lines.append(f"  - ip: {ip}")
        if i == registry:
            lines.append("    docker-registry: true")
    return "\n".join(lines) + "\n"


def make_stack(**kw) -> Stack:
    return plan(config.parse(stack_yaml(**kw)).config)


def snapshot(root: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file under root: its bytes, mtime in ns and mode."""
    found = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath, name)
            st = path.stat()
            found[str(path.relative_to(root))] = (path.read_bytes(), st.st_mtime_ns, st.st_mode & 0o777)
    return found
