"""The derived model of a stack: node names, roles, addresses, DNS names, ports.

plan() turns a validated Config into a Stack; every later step (pki, render, providers,
proxy) reads the Stack, never the YAML. A Stack also round-trips through JSON
(`to_record`/`from_record`), which is how commands that run without nodes.yml (the
proxy, status) learn a stack's nodes from its state directory.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from blackfish.model import images, netaddr
from blackfish.model.aws import AwsSettings, settings as aws_settings
from blackfish.model.config import Config, box_problem, default_roles, label_mapping
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
    # The nodes file (group) that declares the node; None in a record from before groups.
    group: str | None = None

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
    # provider: aws (region, subnet, bucket, ...): None for stacks that name no region and subnet.
    aws: AwsSettings | None = None
    libvirt_driver: str = "auto"
    libvirt_management_network: str | None = None
    # Distribution's `storage:` driver section (never recorded: it may hold cloud credentials).
    registry_storage: dict | None = None
    # --- groups (blackfish/model/groups.py): `group` is the nodes file this plan came from.
    # `nodes` are the nodes a command acts on; when they are one group of a larger stack,
    # `members` holds every node of the stack in its order (empty: `nodes` is the whole stack).
    group: str | None = None
    members: tuple[Node, ...] = ()

    @property
    def all_nodes(self) -> tuple[Node, ...]:
        """Every node of the stack, whatever group the command acts on."""
        return self.members or self.nodes

    @property
    def groups(self) -> list[str]:
        return list(dict.fromkeys(n.group or "-" for n in self.all_nodes))

    def group_view(self, group: str | None = None) -> "Stack":
        """The same stack acting on one group's nodes (default: its own group)."""
        import dataclasses

        group = group or self.group
        return dataclasses.replace(self, nodes=tuple(n for n in self.all_nodes if n.group == group),
                                   members=self.all_nodes, group=group)

    def own_group(self) -> "Stack":
        """The view of the group this plan came from (the stack itself when it has no group)."""
        return self.group_view() if self.group is not None else self

    def whole(self) -> "Stack":
        """The same stack acting on all its nodes."""
        import dataclasses

        return dataclasses.replace(self, nodes=self.all_nodes, members=())

    @property
    def domain(self) -> str:
        return self.name

    @functools.cached_property
    def managers(self) -> list[Node]:
        return [n for n in self.all_nodes if n.is_manager]

    @functools.cached_property
    def workers(self) -> list[Node]:
        return [n for n in self.all_nodes if not n.is_manager]

    @property
    def first_manager(self) -> Node:
        return self.managers[0]

    @functools.cached_property
    def consul_servers(self) -> list[Node]:
        return [n for n in self.all_nodes if n.is_consul_server]

    @functools.cached_property
    def registries(self) -> list[Node]:
        return [n for n in self.all_nodes if n.is_registry]

    @functools.cached_property
    def lbs(self) -> list[Node]:
        return [n for n in self.all_nodes if n.is_lb]

    @property
    def registry_host(self) -> str:
        return f"registry.service.{self.domain}:{REGISTRY_PORT}"

    def node(self, name: str) -> Node:
        for n in self.all_nodes:
            if n.name == name:
                return n
        from blackfish.errors import UsageError

        raise UsageError(f"stack {self.name!r} has no node {name!r}; its nodes: {', '.join(n.name for n in self.all_nodes)}")

    def to_record(self) -> dict:
        """The plan as stack.json keeps it: everything but the secrets given in nodes.yml
        (consul-key, registry-secret), which stay in nodes.yml or under secrets/."""
        return {
            "stack": self.name,
            "dc": self.dc,
            "admin-network": self.admin_network,
            "provider": self.provider,  # as planned; what booted the stack is record.py's `booted`
            "box": self.box,
            "box-url": self.box_url,
            "runtime": self.runtime,
            "labels": dict(self.labels),
            "id": self.id,
            "consul-joinip": self.consul_joinip,
            "ssh-key": self.ssh_key,
            "private-ssh-key": self.private_ssh_key,
            "journald-sink": self.journald_sink,
            "influxdb-url": self.influxdb_url,
            # Without these a recorded stack would ask pki for the default CA and replace a custom one.
            "pki": {"key": self.pki_key, "name-constraints": self.name_constraints},
            # `check` and `load` decide from these which service images the nodes run.
            "images": dict(self.images),
            "templates": str(self.templates) if self.templates else None,
            "node-image": self.node_image,
            "source": str(self.source) if self.source else None,
            "libvirt": {"driver": self.libvirt_driver, "management-network": self.libvirt_management_network},
            **({"aws": self.aws.to_record()} if self.aws else {}),
            "nodes": [
                {"name": n.name, "ip": n.ip, "roles": list(n.roles), "memory": n.memory, "cpus": n.cpus, "labels": n.labels,
                 "group": n.group}
                for n in self.all_nodes
            ],
        }

    @classmethod
    def from_record(cls, record: dict) -> "Stack":
        """The Stack a plan record describes (secrets None); a record written before a field was
        recorded gets that field's default."""
        try:
            name, dc = record["stack"], record["dc"]
            nodes = tuple(
                Node(name=n["name"], ip=n["ip"], stack=name, dc=dc, roles=tuple(n["roles"]),
                     memory=n.get("memory", 2048), cpus=n.get("cpus", 2), labels=n.get("labels", {}),
                     group=n.get("group"))
                for n in record["nodes"]
            )
            pki = record.get("pki", {})
            box = record.get("box", FLATCAR_BOX)
            stack = cls(name=name, dc=dc, admin_network=record["admin-network"], provider=record["provider"], nodes=nodes,
                        box=box, box_url=record.get("box-url", FLATCAR_BOX_URL if box == FLATCAR_BOX else None),
                        runtime=record.get("runtime", "docker"), labels=record.get("labels", {}),
                        images=images.resolve(record.get("images", {})), id=record.get("id"),
                        consul_joinip=record.get("consul-joinip"), ssh_key=record.get("ssh-key"),
                        private_ssh_key=record.get("private-ssh-key"), journald_sink=record.get("journald-sink"),
                        influxdb_url=record.get("influxdb-url"),
                        pki_key=pki.get("key", "ecdsa-p256"), name_constraints=pki.get("name-constraints", True),
                        templates=_path(record.get("templates")), node_image=record.get("node-image"),
                        source=_path(record.get("source")),
                        libvirt_driver=record.get("libvirt", {}).get("driver", "auto"),
                        libvirt_management_network=record.get("libvirt", {}).get("management-network"),
                        aws=AwsSettings.from_record(record["aws"]) if record.get("aws") else None)
        except (KeyError, TypeError, AttributeError) as exc:
            # A stack.json written by hand or by another version: say so instead of a KeyError.
            raise _damaged_record(record, f"is incomplete ({type(exc).__name__}: {exc})") from None
        if problem := _record_problem(stack):
            raise _damaged_record(record, f"is damaged ({problem})")
        return stack


def _damaged_record(record: dict, why: str):
    from blackfish.errors import UsageError

    return UsageError(f"stack.json of stack {record.get('stack')!r} {why}; run `blackfish up` to write it again")


def _record_problem(stack: Stack) -> str | None:
    """What makes a recorded stack unusable: its values reach the same files nodes.yml's do
    (the dnsmasq file of `blackfish dns`, user-data), so they pass the same checks."""
    from blackfish.model.config import LABEL_VALUE
    from blackfish.model.naming import is_dns_label, stack_name_problem

    try:
        netaddr.parse_network(stack.admin_network)
    except ValueError as exc:
        return f"admin-network: {exc}"
    if not all(isinstance(v, str) for v in (stack.name, stack.dc, stack.provider)):
        return "stack, dc and provider must be strings"
    if (problem := stack_name_problem(stack.name)) or not is_dns_label(stack.dc):
        return f"stack {stack.name!r}: {problem}" if problem else f"dc {stack.dc!r} is not a DNS label"
    for i, node in enumerate(stack.nodes):
        if not isinstance(node.name, str) or not is_dns_label(node.name):
            return f"nodes[{i}].name: {node.name!r} is not a DNS label"
        try:
            netaddr.parse_ip(node.ip)
        except ValueError as exc:
            return f"nodes[{i}].ip: {exc}"
        if not all(isinstance(v, str) and LABEL_VALUE.fullmatch(f"{k}={v}") for k, v in node.labels.items()):
            return f"nodes[{i}].labels: not word-safe text"
    return None


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def plan(config: Config, source: Path | None = None, provider: str | None = None,
         recorded: "Stack | None" = None) -> Stack:
    """Derive the Stack from a validated Config (provider may be overridden by a flag).

    With `recorded` (the stack as its record has it), the file is one group of that stack:
    the result is the whole stack, the other groups' nodes as recorded and this file's in
    their place (its group keeps its position; a new group comes last)."""
    from blackfish.model.groups import group_name

    base = source.parent if source is not None else Path.cwd()
    group = group_name(config.group, source)
    if provider and (problem := box_problem(provider, config.box)):
        from blackfish.errors import UsageError

        raise UsageError(f"--provider {provider}: {problem}")
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
            group=group,
        )
        for i, spec in enumerate(config.nodes)
    )
    nodes = _with_other_groups(nodes, group, recorded)
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
        group=group,
        aws=aws_settings(config, [n.name for n in nodes]),
        libvirt_driver=config.libvirt.driver,
        libvirt_management_network=config.libvirt.management_network,
    )


def _with_other_groups(mine: tuple[Node, ...], group: str, recorded: "Stack | None") -> tuple[Node, ...]:
    if recorded is None:
        return mine
    before = recorded.all_nodes
    if all(n.group is None for n in before):
        return mine  # a record from before groups: the stack was one file, this one
    ordered: list[Node] = []
    for node in before:
        if node.group == group:
            if not any(n.group == group for n in ordered):
                ordered += mine
        else:
            ordered.append(node)
    if not any(n.group == group for n in ordered):
        ordered += mine
    return tuple(ordered)


def _stringify(labels: dict) -> dict[str, str]:
    return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in labels.items()}
