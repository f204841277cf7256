"""The docker provider: every node a local container running systemd and a docker engine.

`boot` is an ordered pipeline: the node image (built when missing), the stack's network
(`blackfish-<stack>`, subnet = admin-network), then per node (in waves): a container with
its static IP and a named volume for /var/lib/docker, created or started, then its own
user-data applied the way coreos-cloudinit applies it on Flatcar (blackfish.render.cloudinit)
-- on a new node, or when it changed since the node last got it. Waiting for the swarm is
`up`'s readiness step. Nodes are found by their labels only (io.blackfish.stack,
io.blackfish.node), never by a name pattern.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from blackfish.render import cloudinit

from blackfish.cluster import readiness, units
from blackfish.errors import MissingToolError, ProviderError, UsageError
from blackfish.model.stack import DOCKER_TLS_PORT, Node, Stack
from blackfish.providers.base import NOT_CREATED, Progress, Provider
from blackfish.providers.docker import node as dn
from blackfish.providers.docker.image import check_node_image, ensure_node_image, node_image
from blackfish.providers.waves import boot_in_waves
from blackfish.state import StateDir

STOP_TIMEOUT = 30
log = logging.getLogger("blackfish.providers.docker")


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
    from blackfish.state import user_data_path

    rel = user_data_path(node.name)
    text = state.read(rel)
    if text is None:
        raise ProviderError(f"{node.name}: no user-data at {state.file(rel)} (render the stack with `blackfish up`)")
    return cloudinit.parse(text.decode(), str(state.file(rel))), hashlib.sha256(text).hexdigest()


def _all_at_once(items, action) -> None:
    """action(item) for every item at once (starting, stopping, removing); the first error is raised."""
    items = list(items)
    if not items:
        return
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        list(pool.map(action, items))


class DockerProvider(Provider):
    name = "docker"
    ssh_uses_shell = False

    def __init__(self):
        self._privileged: bool | None = None  # known beforehand, or learnt from the first container this run creates

    # --- the Provider contract -------------------------------------------------------

    def check(self, stack: Stack, state: StateDir) -> None:
        """What must hold before anything is written: an engine, the chosen node image, a usable network."""
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
                    # A later group (docs/groups.md) may name the address the network gave this machine.
                    gateway = pool.get("Gateway")
                    if clash := [n.name for n in stack.nodes if n.ip == gateway]:
                        raise UsageError(f"node {clash[0]}: {gateway} is this machine's address on docker network "
                                         f"{network.name}; give the node another ip")
                elif ipaddress.ip_network(subnet).overlaps(wanted):
                    raise UsageError(f"admin-network {stack.admin_network} overlaps docker network "
                                     f"{network.name} ({subnet}); choose another admin-network in nodes.yml")

    def boot(self, stack: Stack, state: StateDir, *, parallel: int, provision: bool, progress: Progress) -> None:
        client = host_engine()
        documents = {node.name: user_data(state, node) for node in stack.nodes}
        image = node_image(stack)
        ensure_node_image(client, image, progress=lambda message: progress(stack.nodes[0].name, message))
        self._ensure_network(client, stack)
        existing = self._containers(client, stack)
        if self._privileged is None and dn.privileged_refused(client.api.base_url):
            self._privileged = False
        # Managers first, the first manager at the very front: it starts the swarm.
        order = sorted(stack.nodes, key=lambda n: (n is not stack.first_manager, not n.is_manager))

        # Halted nodes all start at once: their managers need each other for a quorum, and a
        # node's engine waits (about 20 s) for one before it reports ready.
        stopped = [existing[n.name] for n in order if n.name in existing and existing[n.name].status != "running"]
        for container in stopped:
            progress(container.labels[dn.LABEL_NODE], "starting its container")
        _all_at_once(stopped, lambda c: c.start())

        def boot(node: Node) -> None:
            config, digest = documents[node.name]
            container = existing.get(node.name)
            new = container is None
            if new:
                progress(node.name, "creating its container")
                container = self._create(client, stack, node, image, config)
            target = dn.NodeTarget(container, node.name)
            if not (new or provision):
                if container not in stopped:
                    progress(node.name, "running")  # left alone, as a running VM is, unless --provision
                    return
                if dn.applied_digest(target) == digest:
                    # What the node was given is still on its disk: it boots from its enabled units.
                    progress(node.name, "booting")
                    return
            progress(node.name, "applying user-data")
            container.reload()

            def wait_for_systemd() -> None:
                progress(node.name, "waiting for systemd, then the units")
                target.wait_for_systemd()

            failures = cloudinit.apply(config, target, current_hostname=container.attrs["Config"]["Hostname"],
                                       before_systemd=wait_for_systemd)
            dn.record_applied(target, digest)
            progress(node.name, f"user-data applied ({len(failures)} unit command(s) failed)" if failures else "user-data applied")

        # `parallel` at once from the first node on: the swarm bootstrap in the user-data orders
        # itself (the first manager starts the swarm once every other manager answers, the others
        # wait for it), and the first container's creation settles the privilege question.
        boot_in_waves(order, boot, parallel=parallel, progress=progress, first_alone=False)

    def status(self, stack: Stack, state: StateDir) -> list[dict]:
        client = host_engine()
        containers = self._containers(client, stack)
        snap = readiness.snapshot(stack, state, lambda n: self.engine_endpoint(stack, state, n)) if containers else None

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
            states = units.unit_states(dn.NodeTarget(container, node.name).run, units.unit_names(state, node))
            result["units"] = units.counts(states)
            result["failed"] = units.failed(states)
            result["waiting"] = units.waiting(states)
            return result

        with ThreadPoolExecutor(max_workers=max(1, len(stack.nodes))) as pool:
            return list(pool.map(row, stack.nodes))

    def halt(self, stack: Stack, state: StateDir) -> None:
        client = host_engine()
        running = [c for c in self._labelled(client, stack)["container"] if c.status == "running"]
        _all_at_once(running, lambda c: c.stop(timeout=STOP_TIMEOUT))

    def destroy(self, stack: Stack, state: StateDir) -> list[str]:
        """Every container, volume and network with the stack's label (containers first: the
        others are in use until they go). What cannot be removed is left for remains()."""
        import docker

        client = host_engine()
        removed: list[str] = []

        def remove(kind: str, thing, **options) -> None:
            try:
                thing.remove(**options)
                removed.append(f"{kind} {thing.name}")
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:  # remains() names it
                log.debug("could not remove %s %s: %s", kind, thing.name, exc)

        found = self._labelled(client, stack)
        _all_at_once(found["container"], lambda c: remove("container", c, force=True, v=True))
        for volume in found["volume"]:
            remove("volume", volume, force=True)
        for network in found["network"]:
            remove("network", network)
        return removed

    def remains(self, stack: Stack, state: StateDir) -> list[str]:
        found = self._labelled(host_engine(), stack)
        return [f"{kind} {thing.name}" for kind, things in found.items() for thing in things]

    def ssh_argv(self, stack: Stack, state: StateDir, node: str, command: list[str]) -> list[str]:
        name = dn.container_name(stack, stack.node(node))
        # A terminal for an interactive shell only, as ssh does: a command's output stays plain.
        tty = ["-t"] if not command and sys.stdin.isatty() and sys.stdout.isatty() else []
        return ["docker", "exec", "-i", *tty, name, *(command or ["/bin/bash", "-l"])]

    def engine_endpoint(self, stack: Stack, state: StateDir, node: Node) -> tuple[str, int]:
        # The stack's bridge network is routed from this machine: the node's own address.
        return node.ip, DOCKER_TLS_PORT

    # --- steps -------------------------------------------------------------------------

    def _labelled(self, client, stack: Stack) -> dict[str, list]:
        """What carries the stack's label; for one group of a larger stack (stack.members, see
        docs/groups.md) only its nodes' containers and volumes: the network stays for the others."""
        selector = {"label": f"{dn.LABEL_STACK}={stack.name}"}
        found = {"container": client.containers.list(all=True, filters=selector),
                 "volume": client.volumes.list(filters=selector),
                 "network": client.networks.list(filters=selector)}
        if stack.members:
            names = {n.name for n in stack.nodes}
            found = {"container": [c for c in found["container"] if c.labels.get(dn.LABEL_NODE) in names],
                     "volume": [v for v in found["volume"] if (v.attrs.get("Labels") or {}).get(dn.LABEL_NODE) in names],
                     "network": []}
        return found

    def _containers(self, client, stack: Stack) -> dict:
        found = client.containers.list(all=True, filters={"label": f"{dn.LABEL_STACK}={stack.name}"})
        return {c.labels.get(dn.LABEL_NODE): c for c in found}

    def _ensure_network(self, client, stack: Stack) -> None:
        import docker

        name = dn.network_name(stack)
        if client.networks.list(names=[name], filters={"label": f"{dn.LABEL_STACK}={stack.name}"}):
            return
        taken = {n.ip for n in stack.all_nodes}
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
            # The first container settles whether the host allows --privileged; the others wait for that answer only.
            if self._privileged is None:
                try:
                    container = dn.create_and_start(client, stack, node, image, True, hostname=config.hostname)
                    self._privileged = True
                    return container
                except dn.PrivilegeRefused:
                    self._privileged = False
        return dn.create_and_start(client, stack, node, image, self._privileged, hostname=config.hostname)
