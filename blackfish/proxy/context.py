"""`blackfish context STACK`: the docker context `blackfish-<stack>` aimed at a healthy manager.

The docker CLI copies the TLS files into its own context store, so the context keeps working
from any directory; it points at one manager, chosen the way the proxy chooses.
"""

from __future__ import annotations

import csv
import io
import os

from blackfish import proxy, tools


def context_name(stack_name: str) -> str:
    return f"blackfish-{stack_name}"


def docker_endpoint(manager: proxy.Manager, cert_path: str) -> str:
    """The `--docker` value: key=value fields, CSV-quoted as the docker CLI parses them."""
    fields = [
        f"host={manager.docker_host}",
        f"ca={os.path.join(cert_path, 'ca.pem')}",
        f"cert={os.path.join(cert_path, 'cert.pem')}",
        f"key={os.path.join(cert_path, 'key.pem')}",
    ]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    return buffer.getvalue()


def context_argv(docker: str, verb: str, stack_name: str, manager: proxy.Manager, cert_path: str) -> list[str]:
    """`docker context create|update blackfish-<stack> ...` for `manager`."""
    return [
        docker, "context", verb, context_name(stack_name),
        "--description", f"Blackfish stack {stack_name} (manager {manager.name})",
        "--docker", docker_endpoint(manager, cert_path),
    ]


def ensure_context(stack_name: str, warn=None) -> tuple[str, proxy.Manager, bool]:
    """Create or update the context; returns its name, the manager, and whether it was created."""
    docker = proxy.require_docker_cli()
    manager, cert_path = proxy.choose(stack_name, warn=warn)
    name = context_name(stack_name)
    exists = tools.run([docker, "context", "inspect", name], check=False).returncode == 0
    tools.run(context_argv(docker, "update" if exists else "create", stack_name, manager, cert_path))
    return name, manager, not exists
