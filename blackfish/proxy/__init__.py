"""The docker proxy: choose a healthy manager of a stack, remember it, exec the docker CLI at it.

`blackfish STACK ARGS...` ends in `os.execvpe("docker", ...)` with DOCKER_HOST, DOCKER_TLS_VERIFY
and DOCKER_CERT_PATH set, so arguments, stdin, the TTY, signals and the exit code are docker's own.
A manager chosen less than CACHE_TTL seconds ago (`proxy-cache` in the state directory) is
reused after a one-round-trip liveness check; only otherwise are the managers probed (blackfish.proxy.probe).
The warm path runs before click is imported (blackfish.entry) and imports no more than os,
time and _socket: each module it avoids (json, socket, ssl, the docker SDK) is milliseconds per call.
"""

import os
import sys
import time

from blackfish.home import RECORD, stack_path

CACHE = "proxy-cache"
CACHE_FORMAT = "blackfish-proxy-cache/1"  # one line: format, name, ip, port, chosen at, stack.json mtime
CACHE_TTL = 30.0  # seconds a chosen manager is trusted without a new probe
CHECK_TIMEOUT = 1.0  # the warm path's liveness check; a LAN or VM network answers in a millisecond
CLIENT_FILES = ("ca.pem", "cert.pem", "key.pem")  # what the docker CLI reads from DOCKER_CERT_PATH
ENV_NAMES = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")
# Removed from docker's environment: current CLIs let DOCKER_HOST win over a context, but
# without the variable no CLI version has to choose.
OVERRIDES = ("DOCKER_CONTEXT",)
DOCKER_INSTALL_HINT = (
    "Install the docker CLI: `apt-get install docker.io` (Debian/Ubuntu), `brew install docker` (macOS), "
    "or see https://docs.docker.com/engine/install/"
)


class Manager:
    """A manager engine the proxy talks to: its node name and TLS endpoint."""

    __slots__ = ("name", "ip", "port")

    def __init__(self, name: str, ip: str, port: int):
        self.name, self.ip, self.port = name, ip, port

    @property
    def docker_host(self) -> str:
        return f"tcp://{self.ip}:{self.port}"

    def __repr__(self) -> str:
        return f"Manager({self.name!r}, {self.docker_host!r})"


def docker_env(manager: Manager, cert_path: str) -> dict[str, str]:
    """The variables that point the docker CLI at `manager` with the stack's client certificate."""
    return dict(zip(ENV_NAMES, (manager.docker_host, "1", cert_path)))


def exec_env(manager: Manager, cert_path: str, environ=None) -> dict[str, str]:
    """The whole environment docker runs with: the user's, minus OVERRIDES, plus docker_env()."""
    env = {k: v for k, v in (os.environ if environ is None else environ).items() if k not in OVERRIDES}
    env.update(docker_env(manager, cert_path))
    return env


# --- the remembered choice -------------------------------------------------------------------

def _record_stamp(path: str) -> int | None:
    try:
        return os.stat(os.path.join(path, RECORD)).st_mtime_ns
    except OSError:
        return None


def remembered(path: str, now: float | None = None) -> Manager | None:
    """The manager chosen lately for the stack in `path`, if still fresh and answering.

    Stale when older than CACHE_TTL, when stack.json changed since, or when the manager
    no longer answers on its port (after exec there is no retrying, so a dead one must be caught here)."""
    try:
        with open(os.path.join(path, CACHE)) as f:
            form, name, ip, port, chosen_at, record = f.read().split()
        age = (time.time() if now is None else now) - float(chosen_at)
        if form != CACHE_FORMAT or not 0 <= age < CACHE_TTL or int(record) != _record_stamp(path):
            return None
        manager = Manager(name, ip, int(port))
    except (OSError, ValueError):
        return None
    if answers(manager):
        return manager
    try:  # so the probing that follows does not wait on it again
        os.unlink(os.path.join(path, CACHE))
    except OSError:
        pass
    return None


def answers(manager: Manager, timeout: float = CHECK_TIMEOUT) -> bool:
    """Whether the engine still serves its TLS port, in one round trip and without importing ssl.

    A plaintext HTTP request to Go's HTTPS server gets "HTTP/1.0 400 ... Client sent an HTTP
    request to an HTTPS server" back. Unlike a bare connect, which dockerd logs as a TLS handshake
    error on every call, this leaves no line in the node's log; and a hung engine fails it."""
    import _socket  # the C module under `socket`, whose enum wrappers cost more than this whole check

    family = _socket.AF_INET6 if ":" in manager.ip else _socket.AF_INET
    conn = _socket.socket(family, _socket.SOCK_STREAM)
    try:
        conn.settimeout(timeout)
        conn.connect((manager.ip, manager.port))
        conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
        return bool(conn.recv(16))
    except OSError:
        return False
    finally:
        conn.close()


def remember(state, manager: Manager) -> None:
    """Write the choice for the next calls (`state` is the stack's blackfish.state.StateDir)."""
    fields = [CACHE_FORMAT, manager.name, manager.ip, manager.port, time.time(), _record_stamp(str(state.path))]
    state.write(CACHE, " ".join(map(str, fields)) + "\n", mode=0o600)


# --- choosing and exec -----------------------------------------------------------------------

def exec_if_remembered(stack_name: str, args: list[str]) -> None:
    """Exec docker at once when the stack has a fresh remembered manager; else return.

    Never raises for the user to see: anything unusual returns, and the full path reports it."""
    path = stack_path(stack_name)
    manager = remembered(path)
    if manager is not None:
        try:
            os.execvpe("docker", ["docker", *args], exec_env(manager, path))
        except OSError:
            return  # no docker CLI: the full path says how to install it


def exec_docker(stack_name: str, args: list[str]) -> None:
    """Replace this process with `docker ARGS...` aimed at a healthy manager of the stack."""
    docker = require_docker_cli()
    manager, path = choose(stack_name, warn=lambda message: print(f"blackfish: warning: {message}", file=sys.stderr))
    os.execve(docker, ["docker", *args], exec_env(manager, path))


def require_docker_cli() -> str:
    import shutil

    docker = shutil.which("docker")
    if docker is None:
        from blackfish.errors import MissingToolError

        raise MissingToolError("the docker CLI is not installed (no `docker` on PATH)", hint=DOCKER_INSTALL_HINT)
    return docker


def choose(stack_name: str, warn=None) -> tuple[Manager, str]:
    """A healthy manager of the stack and the stack's DOCKER_CERT_PATH: the remembered one when
    fresh and reachable, else the best one a probe of every manager finds (then remembered).

    `warn(message)` hears about a fallback to a manager that is not an active swarm manager."""
    from blackfish import record
    from blackfish.model.stack import DOCKER_TLS_PORT
    from blackfish.state import StateDir

    state = StateDir(stack_name)
    stack = record.stack(state)
    path = str(state.path)
    manager = remembered(path)
    if manager is not None:
        return manager, path
    check_client_files(stack_name, path)
    from blackfish.proxy import probe

    candidates = stack.managers or list(stack.nodes)
    best = probe.choose(stack_name, candidates, path)
    if warn is not None and not best.swarm_manager:
        warn(f"no manager of stack {stack_name!r} is an active swarm manager; using {best.node.name} ({best.summary})")
    manager = Manager(best.node.name, best.node.ip, DOCKER_TLS_PORT)
    remember(state, manager)
    return manager, path


def check_client_files(stack_name: str, path: str) -> None:
    missing = [name for name in CLIENT_FILES if not os.path.isfile(os.path.join(path, name))]
    if missing:
        from blackfish.errors import BlackfishError

        raise BlackfishError(
            f"stack {stack_name!r} has no client certificate in {path} (missing {', '.join(missing)}); "
            f"run `blackfish up {stack_name}` to issue it"
        )
