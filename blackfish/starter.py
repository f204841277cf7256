"""`blackfish init`: a commented starter nodes.yml with fresh secrets."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from string import Template

from blackfish.errors import UsageError
from blackfish.templates_dir import builtin_templates


def write_starter(path: Path, stack: str = "vagrant", provider: str = "virtualbox") -> Path:
    if path.is_dir():
        path = path / "nodes.yml"
    if path.exists():
        raise UsageError(f"{path}: already exists; not overwriting it (remove it or choose another path)")
    text = Template((builtin_templates() / "init" / "nodes.yml").read_text()).substitute(
        stack=stack,
        provider=provider,
        consul_key=base64.b64encode(secrets.token_bytes(32)).decode(),
        registry_secret=secrets.token_urlsafe(32),
    )
    # O_EXCL: never clobber a file that appeared meanwhile; 0600: it now holds secrets.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path
