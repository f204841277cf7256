"""nodes.yml: its typed schema, and loading it with FILE:LINE:COL errors.

The file is decoded strictly (unknown keys rejected, no type coercion) into the structs
below, then checked as a whole; every problem is reported at once with its place in the
file. Nothing downstream reads YAML again: stack.py derives the rest from a Config.
"""

# No `from __future__ import annotations`: msgspec would eval every field's annotation from its
# string on the first decode (a millisecond of each `blackfish validate`, bench/bench_cli.py).

import base64
import binascii
import os
import re
import typing
from typing import Literal, Union

import msgspec
import yaml

from blackfish.errors import ConfigError, Problem, UsageError
from blackfish.model import aws  # provider: aws keys (issue 14), kept in their own module
from blackfish.model import bounded_yaml, netaddr
from blackfish.model.naming import is_dns_label, stack_name_problem

DEFAULT_FILE = "nodes.yml"
FILE_ENV = "BLACKFISH_NODES_YML"

VAGRANT_PROVIDERS = ("virtualbox", "parallels", "libvirt", "vmware_desktop", "hyperv")
# Flatcar publishes Vagrant boxes for virtualbox and parallels only; the others need `box:`.
BOX_REQUIRED = ("libvirt", "vmware_desktop", "hyperv")
PROVIDERS = VAGRANT_PROVIDERS + ("docker", aws.PROVIDER)
ROLES = ("consul-server", "swarm-manager", "docker-registry", "lb")
LabelValue = Union[str, int, float, bool]
# `labels:` is a mapping (`type: control`) or, as the seed wrote it, a list of `key=value` strings.
Labels = Union[dict[str, LabelValue], list[str]]

_STRUCT = dict(kw_only=True, forbid_unknown_fields=True, rename="kebab")


def _close_matches(word: str, choices) -> list[str]:
    import difflib  # on demand: importing it was 4% of `blackfish validate` (bench/bench_cli.py)

    return difflib.get_close_matches(word, choices, n=1)


# By default the first three nodes (all nodes when fewer) are consul servers and swarm managers.
DEFAULT_SERVER_COUNT = 3


class PkiSpec(msgspec.Struct, **_STRUCT):
    key: Literal["ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-4096"] = "ecdsa-p256"
    name_constraints: bool = True


class LibvirtSpec(msgspec.Struct, **_STRUCT):
    # auto: kvm when this machine can run KVM guests, else qemu (software emulation, TCG).
    driver: Literal["auto", "kvm", "qemu"] = "auto"
    # Vagrant's management network (DHCP, SSH); default: a /24 derived from the stack name.
    management_network: Union[str, None] = None


class NodeSpec(aws.AwsNodeKeys, **_STRUCT):
    ip: str
    name: Union[str, None] = None
    memory: int = 2048
    cpus: int = 2
    docker_registry: bool = False
    lb: bool = False
    roles: Union[list[str], None] = None
    labels: Labels = {}


class Config(aws.AwsKeys, **_STRUCT):
    stack: str
    nodes: list[NodeSpec]
    # This file's group of the stack (default: the file's name); see blackfish/model/groups.py.
    group: Union[str, None] = None
    provider: str = "virtualbox"
    admin_network: str = "192.168.56.0/24"
    dc: str = "dc1"
    box: Union[str, None] = None
    id: Union[str, None] = None
    consul_joinip: Union[str, None] = None
    consul_key: Union[str, None] = None
    registry_secret: Union[str, None] = None
    ssh_key: Union[str, None] = None
    private_ssh_key: Union[str, None] = None
    journald_sink: Union[str, None] = None
    influxdb_url: Union[str, None] = None
    labels: Labels = {}
    runtime: Literal["docker", "rkt"] = "docker"
    images: dict[str, str] = {}
    pki: PkiSpec = msgspec.field(default_factory=PkiSpec)
    templates: Union[str, None] = None
    node_image: Union[str, None] = None
    # `registry-storage: {DRIVER: {params}}`: distribution's `storage:` section for a shared
    # driver, required by more than one docker-registry node (blackfish/model/registry_storage.py).
    registry_storage: Union[dict[str, dict[str, Union[str, int, float, bool]]], None] = None
    libvirt: LibvirtSpec = msgspec.field(default_factory=LibvirtSpec)


class LoadedConfig(msgspec.Struct, frozen=True):
    """A valid Config, the file it came from and the warnings found while checking it."""

    config: Config
    path: str
    warnings: list[Problem]


def default_roles(config: Config, index: int) -> tuple[str, ...]:
    """A node's roles: its `roles:` when given, else consul server + swarm manager for the
    first three nodes (all nodes when fewer); plus docker-registry / lb from their flags."""
    spec = config.nodes[index]
    if spec.roles is not None:
        roles = list(spec.roles)
    elif index < DEFAULT_SERVER_COUNT:
        roles = ["consul-server", "swarm-manager"]
    else:
        roles = []
    if spec.docker_registry:
        roles.append("docker-registry")
    if spec.lb:
        roles.append("lb")
    return tuple(dict.fromkeys(roles))


def resolve_path(option: str | None) -> str:
    """The nodes file: -f/--file, else $BLACKFISH_NODES_YML, else ./nodes.yml."""
    return option or os.environ.get(FILE_ENV) or DEFAULT_FILE


def load(path: str | os.PathLike, context_for=None) -> LoadedConfig:
    """Read, decode and check a nodes file; raise ConfigError listing every problem.

    context_for(config, path) -> groups.Context gives what the stack's other groups are (the
    default: none, the file is the whole stack)."""
    try:
        text = bounded_yaml.read_text(path)
    except bounded_yaml.LimitError as exc:
        raise ConfigError([Problem(str(path), 1, 1, "", exc.message)]) from None
    except FileNotFoundError:
        raise UsageError(
            f"{path}: no such file (choose one with -f/--file or ${FILE_ENV}, "
            "or write a starter with `blackfish init`)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    return parse(text, str(path), path, context_for)


def parse(text: str, filename: str = DEFAULT_FILE, path: str | os.PathLike | None = None, context_for=None) -> LoadedConfig:
    from blackfish.model import groups

    doc = _Document(text, filename)
    config = doc.decode()
    path = os.fspath(path or filename)
    context = context_for(config, path) if context_for else groups.Context()
    problems = _check(config, doc, context)
    problems.sort(key=lambda p: (p.line, p.column))
    errors = [p for p in problems if not p.warning]
    if errors:
        raise ConfigError(errors)
    return LoadedConfig(config, path, [p for p in problems if p.warning])


def json_schema() -> dict:
    schema = msgspec.json.schema(Config)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Blackfish nodes.yml"
    return schema


# --- decoding, with positions -------------------------------------------------------

def _known_keys(struct: type) -> list[str]:
    return [f.encode_name for f in msgspec.structs.fields(struct)]


_STR_TAG = "tag:yaml.org,2002:str"


class _Document:
    """A YAML document kept as its node tree, so any key path maps back to a line/column."""

    def __init__(self, text: str, filename: str):
        self.filename = filename
        self.root: yaml.Node | None = None
        loader = bounded_yaml.Loader(text)
        try:
            self.root = loader.get_single_node()
            self.data = loader.construct_document(self.root) if self.root is not None else None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            message = " ".join(filter(None, [exc.context, exc.problem]))
            raise ConfigError([self._problem_at(mark, "", f"YAML syntax error: {message}")]) from None
        except yaml.YAMLError as exc:
            raise ConfigError([Problem(filename, 1, 1, "", f"YAML error: {exc}")]) from None
        except bounded_yaml.LimitError as exc:
            raise ConfigError([self._problem_at(exc.mark, "", exc.message)]) from None
        finally:
            loader.dispose()
        self._check_keys()

    def decode(self) -> Config:
        if self.data is None:
            raise ConfigError([Problem(self.filename, 1, 1, "", "the file is empty; expected a mapping with `stack:` and `nodes:`")])
        if not isinstance(self.data, dict):
            raise ConfigError([self.problem([], f"expected a mapping at the top level, got {_yaml_type(self.data)}")])
        try:
            return msgspec.convert(self.data, Config, str_keys=True)
        except msgspec.ValidationError as exc:
            raise ConfigError([self._from_validation_error(str(exc))]) from None

    def problem(self, path: list, message: str, *, key: bool = False, warning: bool = False) -> Problem:
        node = self._node_at(path, key=key)
        mark = node.start_mark if node is not None else None
        return self._problem_at(mark, _format_path(path), message, warning=warning)

    def _problem_at(self, mark, path: str, message: str, warning: bool = False) -> Problem:
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        return Problem(self.filename, line, column, path, message, warning)

    def _node_at(self, path: list, key: bool = False):
        """The YAML node at a key path (the key's own node when key=True); the deepest found."""
        node = self.root
        for i, step in enumerate(path):
            last = i == len(path) - 1
            if isinstance(node, yaml.MappingNode):
                match = next(((k, v) for k, v in node.value if k.value == step), None)
                if match is None:
                    return node
                node = match[0] if (last and key) else match[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
                node = node.value[step]
            else:
                return node
        return node

    def _check_keys(self) -> None:
        """Duplicate keys (PyYAML keeps the last silently) and keys YAML reads as something
        other than a string (`on:` is a boolean, `1:` an integer)."""
        problems = []

        def walk(node, path):
            if isinstance(node, yaml.MappingNode):
                seen = set()
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode):
                        here = _format_path(path + [k.value])
                        if k.tag != _STR_TAG:
                            tag = k.tag.rsplit(":", 1)[-1]
                            kind = _MSGSPEC_TYPES.get(tag, f"a {tag}")
                            problems.append(self._problem_at(k.start_mark, here, f"a key must be a string, and YAML reads {k.value!r} as {kind}; quote it"))
                        elif k.value in seen:
                            problems.append(self._problem_at(k.start_mark, here, "duplicate key"))
                        seen.add(k.value)
                    walk(v, path + [k.value])
            elif isinstance(node, yaml.SequenceNode):
                for i, item in enumerate(node.value):
                    walk(item, path + [i])
            elif isinstance(node, yaml.ScalarNode) and (why := bounded_yaml.scalar_problem(node.value)):
                problems.append(self._problem_at(node.start_mark, _format_path(path), why))

        walk(self.root, [])
        if problems:
            raise ConfigError(problems)

    # msgspec reports the first problem as "<what> - at `$.nodes[1].ip`".
    _AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
    _UNKNOWN = re.compile(r"Object contains unknown field `(?P<field>[^`]+)`")
    _MISSING = re.compile(r"Object missing required field `(?P<field>[^`]+)`")

    def _from_validation_error(self, text: str) -> Problem:
        m = self._AT.match(text)
        what, raw_path = m.group("what"), m.group("path") or ""
        path = _parse_path(raw_path.removesuffix("[...]"))
        if raw_path.endswith("[...]"):
            # A mapping's value (labels, images): msgspec does not say under which key.
            path = _bad_entry(self.data, path)
        if u := self._UNKNOWN.match(what):
            field = u.group("field")
            known = _known_keys(_struct_at(path))
            message = f"unknown key {field!r}"
            if close := _close_matches(field, known):
                message += f"; did you mean {close[0]!r}?"
            else:
                message += f"; expected one of: {', '.join(known)}"
            return self.problem(path + [field], message, key=True)
        if mi := self._MISSING.match(what):
            return self.problem(path, f"missing required key {mi.group('field')!r}")
        value = _value_at(self.data, path)
        if what.startswith("Invalid enum value") and (choices := typing.get_args(_field_type(path))):
            close = _close_matches(str(value), choices)
            hint = f"did you mean {close[0]!r}? " if close else ""
            return self.problem(path, f"unknown value {value!r}; {hint}expected one of: {', '.join(choices)}")
        message = what[0].lower() + what[1:]
        if message.startswith("expected") and value is not _ABSENT:
            message = re.sub(r", got `\w+`$", "", message) + f", got {_yaml_type(value)}" + ("" if value is None else f" {_short(value)}")
            message = re.sub(r"`([\w |]+)`", lambda m: _type_names(m.group(1)), message)
        return self.problem(path, message)


_ABSENT = object()
# msgspec's type names (and YAML's tag names, the same words) as a person says them.
_MSGSPEC_TYPES = {"int": "an integer", "str": "a string", "bool": "a boolean", "float": "a number",
                  "array": "a list", "object": "a mapping", "null": "null"}


def _type_names(union: str) -> str:
    """msgspec's `str | null` as a person says it: "a string" (null is leaving the key out)."""
    names = [_MSGSPEC_TYPES.get(t, t) for t in union.split(" | ") if t != "null"] or ["null"]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _field_type(path: list):
    """The declared type of the key at path (None when path does not end in a struct field)."""
    names = [s for s in path if isinstance(s, str)]
    if not names:
        return None
    fields = {f.encode_name: f.type for f in msgspec.structs.fields(_struct_at(path))}
    return fields.get(names[-1])


def _bad_entry(data, path: list) -> list:
    """The path of the first entry of the mapping at path whose value has the wrong type."""
    mapping = _value_at(data, path)
    declared = _field_type(path)
    # The mapping member of a union such as Labels (a mapping or a list).
    dict_type = next((t for t in (typing.get_args(declared) or (declared,)) if typing.get_origin(t) is dict), None)
    if not isinstance(mapping, dict) or dict_type is None:
        return path
    value_type = typing.get_args(dict_type)[1]
    for key, value in mapping.items():
        try:
            msgspec.convert(value, value_type)
        except msgspec.ValidationError:
            return path + [key]
    return path


def _parse_path(text: str) -> list:
    return [int(i) if i else k for k, i in re.findall(r"\.([^.\[]+)|\[(\d+)\]", text)]


def _format_path(path: list) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def _struct_at(path: list) -> type:
    names = [s for s in path if isinstance(s, str)]
    if names[:1] == ["nodes"]:
        return NodeSpec
    if names[:1] == ["pki"]:
        return PkiSpec
    return Config


def _value_at(data, path):
    for step in path:
        try:
            data = data[step]
        except (KeyError, IndexError, TypeError):
            return _ABSENT
    return data


def _yaml_type(value) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a mapping", type(None): "null"}.get(type(value), type(value).__name__)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- checks on the decoded config ----------------------------------------------------

# Every pattern is applied with fullmatch: `$` also matches before a final newline (issue 16).
_SSH_PUBLIC_KEY = re.compile(r"(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp\d+|sk-[\w@.-]+) +[A-Za-z0-9+/=]+( [^\n]*)?")
_HOST_PORT = re.compile(r"[A-Za-z0-9.-]+:\d{1,5}")
# An http(s) URL without credentials, quotes, spaces or `$` (telegraf expands $VARS in its config).
_HTTP_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[A-Za-z0-9._~/%-]*)?(\?[A-Za-z0-9._~=&%-]*)?")
# A docker image reference: [registry[:port]/]path[:tag][@sha256:digest], lowercase path.
_IMAGE_REF = re.compile(r"([A-Za-z0-9.-]+(:\d{1,5})?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*"
                        r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?")


def provider_problem(name: str) -> str | None:
    if name in PROVIDERS:
        return None
    close = _close_matches(name, PROVIDERS)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown provider {name!r}; {hint}expected one of: {', '.join(PROVIDERS)}"


def box_problem(provider: str, box: str | None) -> str | None:
    """Why `provider` cannot boot without `box:` (None when it can); for nodes.yml and --provider."""
    if box is not None or provider not in BOX_REQUIRED:
        return None
    return (f"provider {provider!r} needs `box:` naming a {provider} box: the default box, Flatcar's, "
            "is published for virtualbox and parallels only")


def _check(config: Config, doc: _Document, context) -> list[Problem]:
    from blackfish.model import groups, registry_storage
    from blackfish.model.images import SERVICES  # the one list of pinned services
    from blackfish.model.naming import default_node_name

    problems: list[Problem] = []

    def bad(path, message, **kw):
        problems.append(doc.problem(path, message, **kw))

    if message := stack_name_problem(config.stack):
        bad(["stack"], message)
    if not is_dns_label(config.dc):
        bad(["dc"], "must be a DNS label (lowercase letters, digits and '-', at most 63 characters)")
    if message := provider_problem(config.provider):
        bad(["provider"], message)
    elif message := box_problem(config.provider, config.box):
        bad(["provider"], message)
    if config.group is not None and (message := groups.group_problem(config.group)):
        bad(["group"], message)

    network = None
    try:
        network = netaddr.parse_network(config.admin_network)
    except ValueError as exc:
        bad(["admin-network"], str(exc))
    else:
        if config.pki.name_constraints and not netaddr.is_private(network):
            bad(["admin-network"], f"{network} is not private address space: the stack's CA, constrained to it, could vouch "
                "for hosts on the internet; use a private network (like 192.168.56.0/24), or set "
                "`pki: {name-constraints: false}` knowingly (then `certs install` refuses the CA)")
    if (management := config.libvirt.management_network) is not None:
        try:
            mgmt = netaddr.parse_network(management)
        except ValueError as exc:
            bad(["libvirt", "management-network"], str(exc))
        else:
            if mgmt.prefixlen > 29:
                bad(["libvirt", "management-network"], "must be a network of at least 8 addresses (/29 or larger)")
            elif network is not None and mgmt.overlaps(network):
                bad(["libvirt", "management-network"], f"overlaps admin-network {config.admin_network}")

    if config.id is not None and not LABEL_VALUE.fullmatch(config.id):
        bad(["id"], "may not contain spaces, quotes, '$', '`' or '\\' (it becomes the engine label io.blackfish.id)")
    if config.consul_joinip is not None:
        try:
            netaddr.parse_ip(config.consul_joinip)
        except ValueError:
            bad(["consul-joinip"], f"not an IP address: {config.consul_joinip!r}")
    if config.consul_key is not None and not _is_consul_key(config.consul_key):
        bad(["consul-key"], "must be the base64 encoding of 16 or 32 random bytes (generate one with `consul keygen` or leave it out)")
    if config.registry_secret is not None and len(config.registry_secret) < 16:
        bad(["registry-secret"], "must be at least 16 characters (or leave it out to have one generated)")
    if config.ssh_key is not None and not _SSH_PUBLIC_KEY.fullmatch(config.ssh_key.strip(" ")):
        bad(["ssh-key"], "must be an SSH public key line (like 'ssh-ed25519 AAAA... you@host')")
    if config.journald_sink is not None and not _HOST_PORT.fullmatch(config.journald_sink):
        bad(["journald-sink"], "must be HOST:PORT")
    if config.influxdb_url is not None and not _HTTP_URL.fullmatch(config.influxdb_url):
        bad(["influxdb-url"], "must be an http:// or https:// URL")
    for service in config.images:
        if service not in SERVICES:
            close = _close_matches(service, SERVICES)
            hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of: {', '.join(SERVICES)}"
            bad(["images", service], f"unknown service {service!r}{hint}", key=True)
        elif not _IMAGE_REF.fullmatch(config.images[service]):
            bad(["images", service], f"{config.images[service]!r} is not an image reference (like registry:3.1.1 or host:5000/team/consul:2.0)")
    if config.node_image is not None and not _IMAGE_REF.fullmatch(config.node_image):
        bad(["node-image"], f"{config.node_image!r} is not an image reference (like blackfish-node:latest)")
    _check_labels(config.labels, ["labels"], bad)
    aws.check(config, bad)

    if not config.nodes:
        bad(["nodes"], "must list at least one node", key=True)
    names: dict[str, int] = {}
    ips: dict[str, int] = {}
    for i, node in enumerate(config.nodes):
        here = ["nodes", i]
        name = node.name if node.name is not None else default_node_name(config.stack, i)
        if node.name is not None and not is_dns_label(node.name):
            bad(here + ["name"], f"{node.name!r} is not a valid hostname (lowercase letters, digits and '-', at most 63 characters)")
        if name in names:
            bad(here + (["name"] if node.name is not None else []), f"duplicate node name {name!r} (also nodes[{names[name]}])")
        names.setdefault(name, i)
        try:
            ip = netaddr.parse_ip(node.ip)
        except ValueError:
            bad(here + ["ip"], f"not an IP address: {node.ip!r}")
        else:
            if network is not None and ip not in network:
                bad(here + ["ip"], f"{node.ip} is outside admin-network {config.admin_network}")
            elif network is not None and ip in (network.network_address, network.broadcast_address):
                bad(here + ["ip"], f"{node.ip} is the network or broadcast address of {config.admin_network}")
            if node.ip in ips:
                bad(here + ["ip"], f"duplicate IP {node.ip} (also nodes[{ips[node.ip]}])")
            ips.setdefault(node.ip, i)
        if node.memory <= 0:
            bad(here + ["memory"], "must be a positive number of MiB")
        if node.cpus <= 0:
            bad(here + ["cpus"], "must be a positive number")
        for j, role in enumerate(node.roles or []):
            if role not in ROLES:
                close = _close_matches(role, ROLES)
                hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of: {', '.join(ROLES)}"
                bad(here + ["roles", j], f"unknown role {role!r}{hint}")
        _check_labels(node.labels, here + ["labels"], bad)

    registry_storage.check(config, bad)

    groups.check(config, doc, context, bad, counts=not problems)
    return problems


_LABEL_KEY = re.compile(r"[a-z0-9]([a-z0-9._-]*[a-z0-9])?(/[A-Za-z0-9._-]+)*")


# Label values travel through the node's shell scripts (swarm node labels): keep them word-safe.
LABEL_VALUE = re.compile(r"""[^\s'"$`\\]*""")


def label_mapping(labels: Labels) -> dict[str, LabelValue]:
    """The labels as a mapping, whichever form nodes.yml used (checked by _check_labels)."""
    if isinstance(labels, dict):
        return labels
    return dict(item.split("=", 1) for item in labels)


def _check_labels(labels: Labels, path: list, bad) -> None:
    if isinstance(labels, list):
        _check_label_list(labels, path, bad)
        return
    for key, value in labels.items():
        if not _LABEL_KEY.fullmatch(key):
            bad(path + [key], f"label key {key!r} must use lowercase letters, digits, '.', '-' and '_'", key=True)
        elif not LABEL_VALUE.fullmatch(str(value)):
            bad(path + [key], "a label value may not contain spaces, quotes, '$', '`' or '\\'")


def _check_label_list(labels: list[str], path: list, bad) -> None:
    """The seed's form: `- type=control`; the same rules as the mapping, and each key once."""
    seen: dict[str, int] = {}
    for i, item in enumerate(labels):
        key, sep, value = item.partition("=")
        if not sep:
            bad(path + [i], f"{item!r} is not KEY=VALUE (like type=control)")
        elif not _LABEL_KEY.fullmatch(key):
            bad(path + [i], f"label key {key!r} must use lowercase letters, digits, '.', '-' and '_'")
        elif not LABEL_VALUE.fullmatch(value):
            bad(path + [i], "a label value may not contain spaces, quotes, '$', '`' or '\\'")
        elif key in seen:
            bad(path + [i], f"duplicate label key {key!r} (also {_format_path(path + [seen[key]])})")
        else:
            seen[key] = i


def _is_consul_key(key: str) -> bool:
    try:
        return len(base64.b64decode(key, validate=True)) in (16, 32)
    except (binascii.Error, ValueError):
        return False
