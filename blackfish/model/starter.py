"""`blackfish init`: a commented starter nodes.yml with fresh secrets."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from string import Template

from blackfish.model.config import provider_problem
from blackfish.model.naming import stack_name_problem
from blackfish.errors import UsageError
from blackfish.render.templates_dir import builtin_templates


def write_starter(path: Path, stack: str = "vagrant", provider: str = "virtualbox") -> Path:
    # Checked here, not by validating the result: the user typed options, not the file.
    for option, problem in (("--stack", stack_name_problem(stack)), ("--provider", provider_problem(provider))):
        if problem:
            raise UsageError(f"{option}: {problem}")
    if path.is_dir():
        path = path / "nodes.yml"
    text = Template((builtin_templates() / "init" / "nodes.yml").read_text()).substitute(
        stack=stack,
        provider=provider,
        consul_key=base64.b64encode(secrets.token_bytes(32)).decode(),
        registry_secret=secrets.token_urlsafe(32),
    )
    # O_EXCL: never clobber an existing file; 0600: it holds secrets.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UsageError(f"{path}: already exists; not overwriting it (remove it or choose another path)") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror}") from None
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path
