"""Docker SDK clients for a stack's node engines, over mutual TLS with the stack's client cert.

The state directory is a DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem; see blackfish.pki),
so every engine is reached exactly as `docker --tlsverify -H tcp://<ip>:2376` would.
"""

from __future__ import annotations

import os
import sys

from blackfish.model.stack import Node
from blackfish.state import CA_CERT, CLIENT_CERT, CLIENT_KEY, StateDir

TIMEOUT = 10.0
MIN_API = "1.24"


def api_client(node, cert_path, timeout: float = TIMEOUT):
    """A low-level APIClient for an engine (anything with `docker_host`, tcp://ip:port), over
    mutual TLS with the client certificate in cert_path (a DOCKER_CERT_PATH). It speaks MIN_API
    until told otherwise, so building it touches no network."""
    import docker
    from docker.tls import TLSConfig

    tls = TLSConfig(
        client_cert=(os.path.join(cert_path, CLIENT_CERT), os.path.join(cert_path, CLIENT_KEY)),
        ca_cert=os.path.join(cert_path, CA_CERT), verify=True,
    )
    api = docker.APIClient(base_url=node.docker_host.replace("tcp://", "https://"), tls=tls,
                           version=MIN_API, timeout=timeout)
    # Before the first request: REQUESTS_CA_BUNDLE would replace our CA, HTTPS_PROXY would
    # detour the connection (the engines sit on the admin network).
    api.trust_env = False
    return api


class At:
    """An engine's address as api_client() takes it: where this machine reaches it."""

    def __init__(self, host: str, port: int):
        self.docker_host = f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"


def client(node: Node, state: StateDir, timeout: float = TIMEOUT, at: tuple[str, int] | None = None):
    """A DockerClient for the node's engine (at `at`, its provider's engine_endpoint, when
    given; else at the node's IP); raises (docker/requests errors) when it does not answer."""
    import docker

    api = api_client(At(*at) if at else node, str(state.path), timeout)
    api._version = api._retrieve_server_version()  # negotiate, as version="auto" would
    engine = docker.DockerClient.__new__(docker.DockerClient)
    engine.api = api
    return engine


def info(node: Node, state: StateDir, timeout: float = 5.0, at: tuple[str, int] | None = None) -> dict:
    """The engine's /info; raises when it does not answer over TLS."""
    engine = client(node, state, timeout, at)
    try:
        return engine.info()
    finally:
        engine.close()


def describe_error(exc: BaseException, timeout: float | None = None) -> str:
    """One line for why an engine did not answer. requests/urllib3 wrap the socket or TLS error
    several layers deep, with object reprs in their messages: report the cause that says what
    happened."""
    import ssl

    # Only its own errors need requests, and importing it costs 100 ms (the proxy's probe never does).
    requests = sys.modules.get("requests")
    if requests is not None and isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} {exc.response.reason}"
    causes = _causes(exc)
    for cause in causes:
        if isinstance(cause, ssl.SSLError):
            reason = str(cause.reason or cause.strerror).replace("_", " ").lower()
            verify = getattr(cause, "verify_message", None)
            return f"TLS handshake failed: {reason}" + (f": {verify}" if verify else "")
    if (requests is not None and isinstance(exc, requests.Timeout)) or any(isinstance(c, TimeoutError) for c in causes):
        return f"no answer within {timeout:g} s" if timeout is not None else "timed out"
    for cause in causes:
        if isinstance(cause, OSError) and cause.errno is not None:
            return (cause.strerror or os.strerror(cause.errno)).lower()
    text = str(exc)
    return text.splitlines()[0][:160] if text else type(exc).__name__


def _causes(exc: BaseException) -> list[BaseException]:
    """exc and every exception it wraps (__cause__, __context__, urllib3's `reason`, args)."""
    found: list[BaseException] = []
    todo = [exc]
    while todo:
        current = todo.pop()
        if not isinstance(current, BaseException) or any(current is f for f in found):
            continue
        found.append(current)
        todo += [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
    return found
