"""The docker provider: every node a local container running systemd and a docker engine.

`up` is an ordered pipeline: the node image (built when missing), the stack's network
(`blackfish-<stack>`, subnet = admin-network), then per node: a container with its static
IP and a named volume for /var/lib/docker, created or started, then its own user-data
applied the way coreos-cloudinit applies it on Flatcar (blackfish.render.cloudinit) -- on a new
node, or when it changed since the node last got it -- and finally a wait until every
engine answers over TLS and the swarm has its planned managers and workers. Nodes are found by their labels only
(io.blackfish.model.stack, io.blackfish.node), never by a name pattern.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from blackfish.render import cloudinit

from blackfish.cluster import readiness
from blackfish.errors import MissingToolError, ProviderError, UsageError
from blackfish.providers.docker import node as dn
from blackfish.providers.docker.image import check_node_image, ensure_node_image, node_image
from blackfish.model.stack import Node, Stack
from blackfish.state import StateDir

READY_TIMEOUT_ENV = "BLACKFISH_UP_TIMEOUT"
READY_TIMEOUT = 300.0
STOP_TIMEOUT = 30
NOT_CREATED = "not_created"


def host_engine():
    """The docker engine that runs the nodes (DOCKER_HOST or the local socket)."""
    import docker

    from blackfish.cluster.engines import describe_error

    try:
        return docker.from_env(version="auto")
    except docker.errors.DockerException as exc:
        raise MissingToolError(
            f"no docker engine answers ({os.environ.get('DOCKER_HOST') or 'the local socket'}): {describe_error(exc)}",
            hint="Install and start one (Debian: apt-get install docker.io)",
        ) from None


def user_data(state: StateDir, node: Node) -> tuple[cloudinit.CloudConfig, str]:
    """The node's rendered user-data, parsed, and its SHA-256."""
    from blackfish.render import user_data_path

    rel = user_data_path(node.name)
    text = state.read(rel)
    if text is None:
        raise ProviderError(f"{node.name}: no user-data at {state.file(rel)} (render the stack with `blackfish up`)")
    return cloudinit.parse(text.decode(), str(state.file(rel))), hashlib.sha256(text).hexdigest()


def _ready_timeout() -> float:
    value = os.environ.get(READY_TIMEOUT_ENV)
    try:
        return float(value) if value else READY_TIMEOUT
    except ValueError:
        raise UsageError(f"${READY_TIMEOUT_ENV} must be a number of seconds, not {value!r}") from None


def _each(items, action, workers: int) -> None:
    """action(item) for every item, up to `workers` at once; the first error is raised."""
    items = list(items)
    if not items:
        return
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
        list(pool.map(action, items))


class DockerProvider:
    name = "docker"

    def __init__(self):
        self._privileged: bool | None = None  # learnt from the first container this run creates

    # --- the Provider protocol -------------------------------------------------------

    def check(self, stack: Stack, state: StateDir, progress=None) -> None:
        """What must hold before anything is written: an engine, the chosen node image, a usable network."""
        _ready_timeout()  # a bad $BLACKFISH_UP_TIMEOUT is refused now, not after booting every node
        client = host_engine()
        check_node_image(client, node_image(stack))
        wanted = ipaddress.ip_network(stack.admin_network)
        for network in client.networks.list():
            for pool in (network.attrs.get("IPAM") or {}).get("Config") or []:
                subnet = pool.get("Subnet")
                if not subnet or ":" in subnet:
                    continue
                if network.name == dn.network_name(stack):
                    if (network.attrs.get("Labels") or {}).get(dn.LABEL_STACK) != stack.name:
                        raise UsageError(
                            f"docker network {network.name} exists but blackfish did not make it for stack "
                            f"{stack.name!r}; remove it (`docker network rm {network.name}`) or rename the stack")
                    if ipaddress.ip_network(subnet) != wanted:
                        raise UsageError(
                            f"docker network {network.name} has subnet {subnet}, but admin-network is "
                            f"{stack.admin_network}; `blackfish destroy {stack.name}` first to change it")
                elif ipaddress.ip_network(subnet).overlaps(wanted):
                    raise UsageError(f"admin-network {stack.admin_network} overlaps docker network "
                                     f"{network.name} ({subnet}); choose another admin-network in nodes.yml")

    def up(self, stack: Stack, state: StateDir, *, parallel: int = 1, provision: bool = False, progress=None) -> None:
        say = progress or (lambda node, phase: None)
        client = host_engine()
        documents = {node.name: user_data(state, node) for node in stack.nodes}
        image = node_image(stack)
        ensure_node_image(client, image, progress=lambda message: say(stack.nodes[0].name, message))
        self._ensure_network(client, stack)
        existing = self._containers(client, stack)
        # Managers first, the first manager at the very front: it starts the swarm.
        order = sorted(stack.nodes, key=lambda n: (n is not stack.first_manager, not n.is_manager))

        # Halted nodes all start at once: their managers need each other for a quorum, and a
        # node's engine waits (about 20 s) for one before it reports ready.
        stopped = [existing[n.name] for n in order if n.name in existing and existing[n.name].status != "running"]
        for container in stopped:
            say(container.labels[dn.LABEL_NODE], "starting its container")
        _each(stopped, lambda c: c.start(), len(stopped))

        def boot(node: Node) -> None:
            config, digest = documents[node.name]
            container = existing.get(node.name)
            new = container is None
            if new:
                say(node.name, "creating its container")
                container = self._create(client, stack, node, image, config)
            target = dn.NodeTarget(container, node.name)
            if not (new or provision):
                if container not in stopped:
                    say(node.name, "running")  # left alone, as a running VM is, unless --provision
                    return
                if dn.applied_digest(target) == digest:
                    # What the node was given is still on its disk: it boots from its enabled units.
                    say(node.name, "booting")
                    return
            say(node.name, "booting systemd")
            target.wait_for_systemd()
            say(node.name, "applying user-data")
            container.reload()
            failures = cloudinit.apply(config, target, current_hostname=container.attrs["Config"]["Hostname"])
            dn.record_applied(target, digest)
            say(node.name, f"user-data applied ({len(failures)} unit command(s) failed)" if failures else "user-data applied")

        # As with the vagrant providers, the first node boots alone (it also settles the
        # privilege question), then up to `parallel` at once.
        boot(order[0])
        _each(order[1:], boot, parallel)

        readiness.wait(stack, state, _ready_timeout(), progress=progress,
                       diagnose=lambda name: self._diagnose(client, stack, state, stack.node(name)))

    def status(self, stack: Stack, state: StateDir) -> list[dict]:
        client = host_engine()
        containers = self._containers(client, stack)
        snap = readiness.snapshot(stack, state) if containers else None

        def row(node: Node) -> dict:
            container = containers.get(node.name)
            result = {"node": node.name, "ip": node.ip, "roles": list(node.roles),
                      "state": container.status if container else NOT_CREATED}
            if container is None or container.status != "running":
                return result
            info = snap.infos.get(node.name)
            result["engine"] = "tls ok" if info else snap.errors.get(node.name, "no answer")
            member = snap.member(node)
            result["swarm"] = (f"{member.role} ({member.state})" if member
                               else (info or {}).get("Swarm", {}).get("LocalNodeState") or "-")
            units = unit_states(dn.NodeTarget(container, node.name), _unit_names(state, node))
            counts = {s: sum(1 for v in units.values() if v == s) for s in dict.fromkeys(units.values())}
            result["units"] = ", ".join(f"{n} {s}" for s, n in counts.items()) or "-"
            result["failed"] = sorted(name for name, s in units.items() if s == "failed")
            return result

        with ThreadPoolExecutor(max_workers=max(1, len(stack.nodes))) as pool:
            return list(pool.map(row, stack.nodes))

    def halt(self, stack: Stack, state: StateDir) -> None:
        client = host_engine()
        running = [c for c in self._containers(client, stack).values() if c.status == "running"]
        _each(running, lambda c: c.stop(timeout=STOP_TIMEOUT), len(running))

    def destroy(self, stack: Stack, state: StateDir) -> None:
        client = host_engine()
        selector = {"label": f"{dn.LABEL_STACK}={stack.name}"}
        containers = client.containers.list(all=True, filters=selector)
        _each(containers, lambda c: c.remove(force=True, v=True), len(containers))
        for volume in client.volumes.list(filters=selector):
            volume.remove(force=True)
        for network in client.networks.list(filters=selector):
            network.remove()

    def ssh_argv(self, stack: Stack, state: StateDir, node: str, command: list[str]) -> list[str]:
        name = dn.container_name(stack, stack.node(node))
        tty = ["-t"] if sys.stdin.isatty() and sys.stdout.isatty() else []
        return ["docker", "exec", "-i", *tty, name, *(command or ["/bin/bash", "-l"])]

    # --- steps -------------------------------------------------------------------------

    def _containers(self, client, stack: Stack) -> dict:
        found = client.containers.list(all=True, filters={"label": f"{dn.LABEL_STACK}={stack.name}"})
        return {c.labels.get(dn.LABEL_NODE): c for c in found}

    def _ensure_network(self, client, stack: Stack) -> None:
        import docker

        name = dn.network_name(stack)
        if client.networks.list(names=[name], filters={"label": f"{dn.LABEL_STACK}={stack.name}"}):
            return
        taken = {n.ip for n in stack.nodes}
        gateway = next(str(ip) for ip in ipaddress.ip_network(stack.admin_network).hosts() if str(ip) not in taken)
        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=stack.admin_network, gateway=gateway)])
        client.networks.create(name, driver="bridge", ipam=ipam, labels=dn.labels(stack), check_duplicate=True)

    _privilege_lock = threading.Lock()

    def _create(self, client, stack: Stack, node: Node, image: str, config: cloudinit.CloudConfig):
        import docker

        try:
            client.volumes.get(dn.volume_name(stack, node))
        except docker.errors.NotFound:
            client.volumes.create(dn.volume_name(stack, node), labels=dn.labels(stack, node))
        with self._privilege_lock:
            container, self._privileged = dn.create_and_start(client, stack, node, image, self._privileged,
                                                              hostname=config.hostname)
        return container

    def _diagnose(self, client, stack: Stack, state: StateDir, node: Node) -> str | None:
        """The failing (or still starting) unit of a late node, and its journal's tail."""
        container = self._containers(client, stack).get(node.name)
        if container is None or container.status != "running":
            return f"its container is {container.status if container else 'gone'}"
        target = dn.NodeTarget(container, node.name)
        states = unit_states(target, _unit_names(state, node))
        culprit = next((u for u, s in states.items() if s == "failed"), None) \
            or next((u for u, s in states.items() if s in ("activating", "inactive") and u.endswith(".service")), None)
        if culprit is None:
            return None
        _, journal = target.run(("journalctl", "--no-pager", "-n", "15", "-u", culprit))
        return f"unit {culprit} is {states[culprit]}; its journal ends:\n{journal.rstrip()}"


def _unit_names(state: StateDir, node: Node) -> list[str]:
    try:
        return list(dict.fromkeys(u.name for u in user_data(state, node)[0].units))
    except ProviderError:
        return []


# A unit that restarted and has not stayed up this long since still counts as failing.
SETTLED_SECONDS = 60


def unit_states(target: dn.NodeTarget, names: list[str]) -> dict[str, str]:
    """Each unit's state in the node: systemd's ActiveState, except that a unit that keeps
    failing and restarting (Restart=always, for an image that cannot be pulled, say) is
    `failed`, also in the moments it runs between two failures."""
    if not names:
        return {}
    show = "systemctl show --property=Id,ActiveState,SubState,NRestarts,ActiveEnterTimestampMonotonic"
    _, output = target.run(("sh", "-c", f'cut -d" " -f1 /proc/uptime; {show} "$@"', "-", *names))
    lines = output.splitlines()
    try:
        now = float(lines[0]) * 1e6
    except (IndexError, ValueError):
        now = 0.0
    states, current = {}, {}
    for line in lines[1:] + [""]:
        if not line.strip():
            if "Id" in current:
                states[current["Id"]] = _unit_state(current, now)
            current = {}
        elif "=" in line:
            key, value = line.split("=", 1)
            current[key] = value
    return {name: states.get(name, "unknown") for name in names}


def _unit_state(props: dict[str, str], now_us: float) -> str:
    active = props.get("ActiveState", "unknown")
    restarts = int(props.get("NRestarts") or 0)
    up_since = int(props.get("ActiveEnterTimestampMonotonic") or 0)
    if props.get("SubState") == "auto-restart":
        return "failed"
    if active == "active" and restarts and now_us - up_since < SETTLED_SECONDS * 1e6:
        return "failed"
    return active
