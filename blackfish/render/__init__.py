"""Rendering each node's user-data: the `#cloud-config` document that makes a machine a node.

`render_user_data()` is pure: a stack, a node and its secrets in, the document out. It runs
`templates/cloud-config.yml.j2` in a Jinja2 environment whose loader looks first in the
user's templates directory (`templates:` in nodes.yml, or `--templates`), then in the
built-in templates (also reachable as `builtin/<path>`, so a user template can extend the
one it replaces). `render_stack()` does the I/O: it makes sure the PKI exists, resolves the
secrets, and writes `nodes/<name>/user-data` (0600: it holds the node's key) for every node.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from blackfish import pki, record

from blackfish.pki import sshkey
from blackfish.errors import UsageError
from blackfish.model.stack import Node, Stack
from blackfish.state import StateDir, user_data_path
from blackfish.render.templates_dir import builtin_templates

USER_DATA_TEMPLATE = "cloud-config.yml.j2"
USER_DATA_MODE = 0o600
CONSUL_KEY, REGISTRY_SECRET = "consul-key", "registry-secret"

# What YAML cannot carry as written: characters outside its printable set, and the ones
# YAML 1.1 readers take as line breaks.
_YAML_ESCAPE = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029\ufeff]")
_BLANK_LINE = re.compile(r"^[ \t]+$", re.M)


@dataclass(frozen=True)
class RenderedNode:
    node: Node
    path: Path
    services: list[str]
    images: dict[str, str] = field(default_factory=dict)
    changed: bool = True


def node_services(stack: Stack, node: Node) -> list[str]:
    """What runs on a node, in start order: the engine and swarm, then the system services."""
    services = ["docker", "swarm", "consul", "registrator"]
    if node.is_registry:
        services.append("registry")
    if node.is_lb:
        services += ["haproxy", "consul-template"]
    if stack.journald_sink:
        services.append("journald-forward")
    if stack.influxdb_url:
        services.append("telegraf")
    return services


def node_labels(stack: Stack, node: Node) -> list[str]:
    """Engine and swarm labels, `key=value`: the stack's identity, then nodes.yml's labels."""
    merged = {"io.blackfish.stack": stack.name, "io.blackfish.dc": stack.dc, "io.blackfish.node": node.name,
              **({"io.blackfish.id": stack.id} if stack.id else {}), **stack.labels, **node.labels}
    # Values travel through a systemd EnvironmentFile and a shell word list; config.py
    # refuses the ones that cannot (LABEL_VALUE), with their place in nodes.yml.
    return [f"{key}={value}" for key, value in merged.items()]


def render_user_data(stack: Stack, node: Node, context: dict, templates: Path | None = None) -> str:
    """The node's `#cloud-config` document.

    `context` holds what is not in the stack: ca_pem, cert_pem, key_pem (this node's),
    ssh_authorized_keys, consul_key, registry_secret. `templates` overrides stack.templates."""
    env = environment(templates if templates is not None else stack.templates)
    services = node_services(stack, node)
    variables = {
        "stack": stack, "node": node, "services": services, "images": stack.images,
        "labels": node_labels(stack, node), **context,
    }
    try:
        return env.get_template(USER_DATA_TEMPLATE).render(variables)
    except jinja2.TemplateSyntaxError as exc:
        raise UsageError(f"{exc.filename or exc.name}:{exc.lineno}: template syntax error: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        raise UsageError(f"{_template_place(exc)}template {exc.name!r} not found in {_search_path(env)}") from None
    except jinja2.UndefinedError as exc:
        raise UsageError(f"{_template_place(exc)}rendering the user-data of {node.name}: {exc.message}") from None


def render_stack(stack: Stack, state: StateDir, templates: Path | None = None) -> list[RenderedNode]:
    """Create the PKI when needed, then write every node's user-data into the state directory."""
    with state.lock():  # re-entrant: ensure_pki takes it too
        pki.ensure_pki(stack, state)
        context = {
            "ca_pem": _read(state, pki.CA_CERT),
            "ssh_authorized_keys": [line for line in (_read(state, sshkey.PUBLIC).strip(), (stack.ssh_key or "").strip()) if line],
            "consul_key": state.secret(CONSUL_KEY, stack.consul_key, generate=new_consul_key),
            "registry_secret": state.secret(REGISTRY_SECRET, stack.registry_secret),
        }
        # Only the nodes of this file's group: the other groups' user-data stays as their files rendered it.
        rendered = [_write_node(stack, state, node, context, templates) for node in stack.own_group().nodes]
        record.save_plan(state, stack)  # never what booted the stack: that is `up`'s
    return rendered


def _write_node(stack: Stack, state: StateDir, node: Node, context: dict, templates: Path | None) -> RenderedNode:
    node_context = {**context, "cert_pem": _read(state, pki.node_cert(node.name)),
                    "key_pem": _read(state, pki.node_key(node.name))}
    rel = user_data_path(node.name)
    changed = state.write(rel, render_user_data(stack, node, node_context, templates), mode=USER_DATA_MODE)
    services = node_services(stack, node)
    return RenderedNode(node=node, path=state.file(rel), services=services, changed=changed,
                        images={s: stack.images[s] for s in services if s in stack.images})


def new_consul_key() -> str:
    """A consul gossip key: the base64 of 32 random bytes, like `consul keygen`."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _read(state: StateDir, rel: str) -> str:
    data = state.read(rel)
    if data is None:
        raise UsageError(f"{state.file(rel)} is missing; the PKI is incomplete (try `blackfish certs rotate`)")
    return data.decode()


# --- the Jinja2 environment --------------------------------------------------------

@functools.lru_cache(maxsize=8)
def environment(user_templates: Path | None = None) -> jinja2.Environment:
    """User templates first, then the built-ins (also as builtin/<path>); strict undefined."""
    builtin = builtin_templates()
    loaders: list[jinja2.BaseLoader] = []
    if user_templates is not None:
        if not Path(user_templates).is_dir():
            why = "is not a directory" if Path(user_templates).exists() else "does not exist"
            raise UsageError(f"templates directory {user_templates} {why}")
        loaders.append(jinja2.FileSystemLoader(str(user_templates)))
    loaders += [jinja2.FileSystemLoader(str(builtin)), jinja2.PrefixLoader({"builtin": jinja2.FileSystemLoader(str(builtin))})]
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters.update(block=yaml_block, yaml_str=yaml_str, systemd_arg=systemd_arg)
    env.globals["raw"] = functools.lru_cache(maxsize=None)(lambda name: env.loader.get_source(env, name)[0])
    return env


def _template_place(exc: Exception) -> str:
    """`FILE:LINE: ` of the innermost template line a rendering error came from ('' if none).

    Jinja rewrites the traceback so that template code appears as frames of the template
    file, marked by `__jinja_exception__` in their globals."""
    place, tb = "", exc.__traceback__
    while tb is not None:
        if "__jinja_exception__" in tb.tb_frame.f_globals:
            place = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}: "
        tb = tb.tb_next
    return place


def _search_path(env: jinja2.Environment) -> str:
    return ", ".join(str(p) for loader in env.loader.loaders if isinstance(loader, jinja2.FileSystemLoader)
                     for p in loader.searchpath)


def yaml_str(value: str) -> str:
    """A YAML double-quoted scalar: JSON's string syntax (a subset of YAML's), with what
    YAML would not read back as written (non-printable characters, line separators) escaped."""
    text = json.dumps(str(value), ensure_ascii=False)
    return _YAML_ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def yaml_block(text: str, indent: int) -> str:
    """`text` as a YAML literal block scalar indented by `indent` spaces, read back byte for byte.

    Text a block cannot carry exactly (control characters, Unicode line separators) falls
    back to a double-quoted scalar."""
    text = str(text)
    if not text or _YAML_ESCAPE.search(text) or "\r" in text or _BLANK_LINE.search(text):
        return yaml_str(text)
    body = text.rstrip("\n")
    if not body:  # only line breaks: a block scalar would read back as ""
        return yaml_str(text)
    trailing = len(text) - len(body)
    chomp = "-" if trailing == 0 else ("" if trailing == 1 else "+")
    # When the first line starts with a space the indentation must be given explicitly; it
    # counts from the parent key, which the templates put two columns left of the content.
    indicator = "2" if body.lstrip("\n")[:1] == " " else ""
    pad = " " * indent
    lines = [pad + line if line else "" for line in body.split("\n")]
    lines += [""] * (trailing - 1) if trailing > 1 else []
    return f"|{indicator}{chomp}\n" + "\n".join(lines)


_SYSTEMD_PLAIN = re.compile(r"^[A-Za-z0-9_@%+=:,./\-]+$")


def systemd_arg(value) -> str:
    """One argument of a systemd Exec line: specifiers (%) and variables ($) kept literal,
    quoted when it has spaces or quotes."""
    text = str(value).replace("%", "%%").replace("$", "$$")
    if text and _SYSTEMD_PLAIN.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
