"""Digests that say whether work done before still holds: of files, of parts, and of
blackfish's own code (a changed check or template filter must not keep an old verdict).

pki (pki-checked.json) and render (render-memo.json) keep such digests so that a rerun
with nothing changed only reads and compares.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path


def of_parts(*parts: object) -> str:
    """A digest of the parts: bytes as they are, anything else by its repr."""
    digest = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else repr(part).encode()
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def of_files(directories: list[Path], suffix: str = "") -> str:
    """A digest of every file (ending in suffix) under the directories: relative paths and bytes."""
    digest = hashlib.sha256()
    for directory in directories:
        for root, dirs, files in os.walk(directory):
            dirs.sort()
            for name in sorted(n for n in files if n.endswith(suffix)):
                path = Path(root, name)
                digest.update(f"{path.relative_to(directory)}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def of_code() -> str:
    """blackfish's own source, read once per process."""
    return of_files([Path(__file__).resolve().parent], suffix=".py")
