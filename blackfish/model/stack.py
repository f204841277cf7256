"""The derived model of a stack: node names, roles, addresses, DNS names, ports.

plan() turns a validated Config into a Stack; every later step (pki, render, providers,
proxy) reads the Stack, never the YAML. A Stack also round-trips through JSON
(`to_record`/`from_record`), which is how commands that run without nodes.yml (the
proxy, status) learn a stack's nodes from its state directory.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from blackfish.model import images
from blackfish.model.config import Config, default_roles, label_mapping
from blackfish.model.naming import default_node_name

DOCKER_TLS_PORT = 2376
REGISTRY_PORT = 5000
CONSUL_HTTPS_PORT = 8501
CONSUL_DNS_PORT = 8600

FLATCAR_BOX = "flatcar-stable"
FLATCAR_BOX_URL = "https://stable.release.flatcar-linux.net/amd64-usr/current/flatcar_production_vagrant.json"


@dataclass(frozen=True)
class Node:
    name: str
    ip: str
    stack: str
    dc: str
    roles: tuple[str, ...]
    memory: int = 2048
    cpus: int = 2
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def fqdn(self) -> str:
        """The node's name in consul DNS; also its certificate's CN and first SAN."""
        return f"{self.name}.node.{self.dc}.{self.stack}"

    @property
    def is_manager(self) -> bool:
        return "swarm-manager" in self.roles

    @property
    def is_consul_server(self) -> bool:
        return "consul-server" in self.roles

    @property
    def is_registry(self) -> bool:
        return "docker-registry" in self.roles

    @property
    def is_lb(self) -> bool:
        return "lb" in self.roles

    @property
    def dns_names(self) -> list[str]:
        """Every DNS name the node answers to; all inside the stack's domain (or localhost),
        because the CA's name constraints make Go and OpenSSL reject any name outside."""
        names = [self.fqdn, f"{self.name}.{self.stack}", "localhost", f"consul.service.{self.stack}"]
        if self.is_consul_server:
            names.append(f"server.{self.dc}.{self.stack}")
        if self.is_registry:
            names.append(f"registry.service.{self.stack}")
        return names

    @property
    def ip_addresses(self) -> list[str]:
        return [self.ip, "127.0.0.1"]

    @property
    def docker_host(self) -> str:
        return f"tcp://{self.ip}:{DOCKER_TLS_PORT}"


@dataclass(frozen=True)
class Stack:
    name: str
    dc: str
    admin_network: str
    provider: str
    nodes: tuple[Node, ...]
    box: str = FLATCAR_BOX
    box_url: str | None = FLATCAR_BOX_URL
    runtime: str = "docker"
    labels: dict[str, str] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=lambda: dict(images.PINNED))
    id: str | None = None
    consul_joinip: str | None = None
    consul_key: str | None = None
    registry_secret: str | None = None
    ssh_key: str | None = None
    private_ssh_key: str | None = None
    journald_sink: str | None = None
    influxdb_url: str | None = None
    pki_key: str = "ecdsa-p256"
    name_constraints: bool = True
    templates: Path | None = None
    node_image: str | None = None
    source: Path | None = None
    # Distribution's `storage:` driver section (never recorded: it may hold cloud credentials).
    registry_storage: dict | None = None

    @property
    def domain(self) -> str:
        return self.name

    @property
    def managers(self) -> list[Node]:
        return [n for n in self.nodes if n.is_manager]

    @property
    def workers(self) -> list[Node]:
        return [n for n in self.nodes if not n.is_manager]

    @property
    def first_manager(self) -> Node:
        return self.managers[0]

    @property
    def consul_servers(self) -> list[Node]:
        return [n for n in self.nodes if n.is_consul_server]

    @property
    def registries(self) -> list[Node]:
        return [n for n in self.nodes if n.is_registry]

    @property
    def lbs(self) -> list[Node]:
        return [n for n in self.nodes if n.is_lb]

    @property
    def registry_host(self) -> str:
        return f"registry.service.{self.domain}:{REGISTRY_PORT}"

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        from blackfish.errors import UsageError

        raise UsageError(f"stack {self.name!r} has no node {name!r}; its nodes: {', '.join(n.name for n in self.nodes)}")

    def to_record(self) -> dict:
        """What the state directory keeps about the plan (no secrets)."""
        return {
            "stack": self.name,
            "dc": self.dc,
            "admin-network": self.admin_network,
            "provider": self.provider,
            # Without these a recorded stack would ask pki for the default CA and replace a custom one.
            "pki": {"key": self.pki_key, "name-constraints": self.name_constraints},
            # `check` and `load` decide from these which service images the nodes run.
            "images": dict(self.images),
            "nodes": [
                {"name": n.name, "ip": n.ip, "roles": list(n.roles), "memory": n.memory, "cpus": n.cpus, "labels": n.labels}
                for n in self.nodes
            ],
        }

    @classmethod
    def from_record(cls, record: dict) -> "Stack":
        try:
            name, dc = record["stack"], record["dc"]
            nodes = tuple(
                Node(name=n["name"], ip=n["ip"], stack=name, dc=dc, roles=tuple(n["roles"]),
                     memory=n.get("memory", 2048), cpus=n.get("cpus", 2), labels=n.get("labels", {}))
                for n in record["nodes"]
            )
            pki = record.get("pki", {})
            return cls(name=name, dc=dc, admin_network=record["admin-network"], provider=record["provider"], nodes=nodes,
                       pki_key=pki.get("key", "ecdsa-p256"), name_constraints=pki.get("name-constraints", True),
                       images=images.resolve(record.get("images", {})))
        except (KeyError, TypeError, AttributeError) as exc:
            # A stack.json written by hand or by another version: say so instead of a KeyError.
            from blackfish.errors import BlackfishError

            raise BlackfishError(f"stack.json of stack {record.get('stack')!r} is incomplete ({type(exc).__name__}: {exc}); "
                                 "run `blackfish up` to write it again") from None


def plan(config: Config, source: Path | None = None, provider: str | None = None) -> Stack:
    """Derive the Stack from a validated Config (provider may be overridden by a flag)."""
    base = source.parent if source is not None else Path.cwd()
    nodes = tuple(
        Node(
            name=spec.name or default_node_name(config.stack, i),
            ip=str(ipaddress.ip_address(spec.ip)),
            stack=config.stack,
            dc=config.dc,
            roles=default_roles(config, i),
            memory=spec.memory,
            cpus=spec.cpus,
            labels=_stringify(label_mapping(spec.labels)),
        )
        for i, spec in enumerate(config.nodes)
    )
    return Stack(
        name=config.stack,
        dc=config.dc,
        admin_network=config.admin_network,
        provider=provider or config.provider,
        nodes=nodes,
        box=config.box or FLATCAR_BOX,
        box_url=None if config.box else FLATCAR_BOX_URL,
        runtime=config.runtime,
        labels=_stringify(label_mapping(config.labels)),
        images=images.resolve(config.images),
        id=config.id,
        consul_joinip=config.consul_joinip,
        consul_key=config.consul_key,
        registry_secret=config.registry_secret,
        ssh_key=config.ssh_key,
        private_ssh_key=config.private_ssh_key,
        journald_sink=config.journald_sink,
        influxdb_url=config.influxdb_url,
        pki_key=config.pki.key,
        name_constraints=config.pki.name_constraints,
        templates=(base / config.templates) if config.templates else None,
        node_image=config.node_image,
        source=source,
        registry_storage=config.registry_storage,
    )


def _stringify(labels: dict) -> dict[str, str]:
    return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in labels.items()}
