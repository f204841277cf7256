"""Docker SDK clients for a stack's node engines, over mutual TLS with the stack's client cert.

The state directory is a DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem; see blackfish.pki),
so every engine is reached exactly as `docker --tlsverify -H tcp://<ip>:2376` would.
"""

from __future__ import annotations

from blackfish.stack import Node
from blackfish.state import StateDir

TIMEOUT = 10.0
MIN_API = "1.24"


def client(node: Node, state: StateDir, timeout: float = TIMEOUT):
    """A DockerClient for the node's engine; raises (docker/requests errors) when it does not answer."""
    import docker
    from docker.tls import TLSConfig

    tls = TLSConfig(
        client_cert=(str(state.file("cert.pem")), str(state.file("key.pem"))),
        ca_cert=str(state.file("ca.pem")), verify=True,
    )
    api = docker.APIClient(base_url=node.docker_host.replace("tcp://", "https://"), tls=tls,
                           version=MIN_API, timeout=timeout)
    # Before the first request: REQUESTS_CA_BUNDLE would replace our CA, HTTPS_PROXY would
    # detour the connection. Then negotiate the API version, as version="auto" would.
    api.trust_env = False
    api._version = api._retrieve_server_version()
    engine = docker.DockerClient.__new__(docker.DockerClient)
    engine.api = api
    return engine


def info(node: Node, state: StateDir, timeout: float = 5.0) -> dict:
    """The engine's /info; raises when it does not answer over TLS."""
    engine = client(node, state, timeout)
    try:
        return engine.info()
    finally:
        engine.close()


def describe_error(exc: Exception) -> str:
    """One short line for why an engine did not answer."""
    text = str(exc)
    for marker in ("Connection refused", "timed out", "No route to host", "CERTIFICATE_VERIFY_FAILED",
                   "certificate required", "Name or service not known", "No such file or directory",
                   "Permission denied"):
        if marker in text:
            return marker.lower()
    return text.splitlines()[0][:160] if text else type(exc).__name__
