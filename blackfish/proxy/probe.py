"""Probing a stack's manager engines over TLS (http.client) and ranking what answers.

Every candidate is asked for `/_ping`, then `/info`, all at once, each in its own thread with a
short timeout. An active swarm manager (LocalNodeState "active" and ControlAvailable) wins as soon
as one answers; otherwise the first reachable engine in the stack's order does (it can still run
containers); when none answers, NoManagerError names each manager and what went wrong with it.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

from blackfish.errors import EXIT_MISSING_TOOL, BlackfishError

PROBE_TIMEOUT = 5.0  # seconds per connect/read; a manager slower than this is as good as down
INFO_TIMEOUT = 3.0  # /info alone: it hangs on a manager without quorum (seen: > 20 s), /_ping does not


class NoManagerError(BlackfishError):
    """No manager engine of the stack answered; exit 3 like an unusable tool."""

    exit_code = EXIT_MISSING_TOOL


@dataclass(frozen=True)
class Probe:
    """What one manager engine said (or the error reaching it)."""

    node: object  # blackfish.model.stack.Node
    swarm_state: str | None = None  # Swarm.LocalNodeState (active, inactive, pending, locked, error), or unresponsive
    control: bool = False  # Swarm.ControlAvailable: this engine is a manager of the swarm
    version: str | None = None
    error: str | None = None

    @property
    def reachable(self) -> bool:
        return self.error is None

    @property
    def swarm_manager(self) -> bool:
        return self.swarm_state == "active" and self.control

    @property
    def summary(self) -> str:
        if self.error is not None:
            return self.error
        if self.swarm_state == "unresponsive":
            return f"the engine answers, its swarm state does not within {INFO_TIMEOUT:g} s (no quorum?)"
        role = "manager" if self.control else "not a manager"
        return f"docker {self.version}, swarm {self.swarm_state}, {role}"


def probe(node, cert_path: str, timeout: float = PROBE_TIMEOUT) -> Probe:
    """Ask one engine for /_ping, then /info, over mutual TLS with the stack's client certificate.

    With http.client and ssl, not the docker SDK: importing the SDK (requests, urllib3) took
    100 ms, most of what a cold proxy call costs over docker's own (bench/bench_proxy.py)."""
    import http.client
    import json

    from blackfish.cluster.engines import describe_error

    host, _, port = node.docker_host.removeprefix("tcp://").rpartition(":")
    try:
        conn = http.client.HTTPSConnection(host.strip("[]"), int(port), timeout=timeout, context=_tls(cert_path))
        try:
            # Unversioned paths get the engine's newest API (Docker 29 refuses old versioned paths).
            _get(conn, "/_ping")
            conn.sock.settimeout(INFO_TIMEOUT)
            try:
                info = json.loads(_get(conn, "/info"))
            except TimeoutError:
                # A manager whose swarm lost quorum hangs on /info, yet runs containers fine.
                return Probe(node, swarm_state="unresponsive")
        finally:
            conn.close()
    except Exception as exc:  # every failure is an answer here: the manager is not usable
        return Probe(node, error=describe_error(exc, timeout))
    swarm = info.get("Swarm") or {}
    return Probe(node, swarm_state=swarm.get("LocalNodeState"), control=bool(swarm.get("ControlAvailable")),
                 version=info.get("ServerVersion"))


class _Status(Exception):
    """An engine's answer other than 200 OK, said as `HTTP 500 Internal Server Error`."""


def _get(conn, path: str) -> bytes:
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise _Status(f"HTTP {response.status} {response.reason}")
    return body


def _tls(cert_path: str):
    """What `docker --tlsverify` does with a DOCKER_CERT_PATH: trust only its ca.pem, present
    its cert.pem, and check that the engine's certificate names the address it was reached at."""
    import os
    import ssl

    context = ssl.create_default_context(cafile=os.path.join(cert_path, "ca.pem"))
    context.load_cert_chain(os.path.join(cert_path, "cert.pem"), os.path.join(cert_path, "key.pem"))
    return context


def probe_all(nodes, cert_path: str, timeout: float = PROBE_TIMEOUT):
    """Probe every node concurrently; yield each Probe as it arrives (daemon threads, so a
    manager that hangs never delays the exit of a process that already has its answer)."""
    import http.client  # noqa: F401  (once, here, rather than raced for by the threads' first imports)
    import ssl  # noqa: F401

    answers: queue.Queue[Probe] = queue.Queue()
    for node in nodes:
        threading.Thread(target=lambda n=node: answers.put(probe(n, cert_path, timeout)), daemon=True).start()
    for _ in nodes:
        yield answers.get()


def choose(stack_name: str, nodes, cert_path: str, timeout: float = PROBE_TIMEOUT) -> Probe:
    """The best manager: the first active swarm manager to answer, else the first reachable
    engine in the stack's order; NoManagerError when none answers."""
    seen: dict[str, Probe] = {}
    for answer in probe_all(nodes, cert_path, timeout):
        if answer.swarm_manager:
            return answer
        seen[answer.node.name] = answer
    ordered = [seen[node.name] for node in nodes]
    for answer in ordered:
        if answer.reachable:
            return answer
    raise NoManagerError(
        f"no manager of stack {stack_name!r} answers",
        detail="\n".join(f"  {a.node.name} ({a.node.docker_host}): {a.error}" for a in ordered),
    )
