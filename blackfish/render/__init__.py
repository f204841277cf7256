"""Rendering each node's user-data: the `#cloud-config` document that makes a machine a node.

`render_user_data()` is pure: a stack, a node and its secrets in, the document out. It runs
`templates/cloud-config.yml.j2` in a Jinja2 environment whose loader looks first in the
user's templates directory (`templates:` in nodes.yml, or `--templates`), then in the
built-in templates (also reachable as `builtin/<path>`, so a user template can extend the
one it replaces). `render_stack()` does the I/O: it makes sure the PKI exists, resolves the
secrets, and writes `nodes/<name>.user-data` (0600: it holds the node's key) for every node.
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

from blackfish import fingerprint, pki, record

from blackfish.pki import sshkey
from blackfish.errors import UsageError
from blackfish.model.stack import Node, Stack
from blackfish.render import consul_tokens, memo, parallel
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

    `context` holds what is not in the stack: ca_pem, clients_ca_pem, cert_pem, key_pem (this
    node's), client_cert_pem, client_key_pem (a manager's engine-client pair, else empty),
    ssh_authorized_keys, consul_key, registry_secret. `templates` overrides stack.templates."""
    return _render(environment(templates if templates is not None else stack.templates), stack, node, context)


def _render(env: jinja2.Environment, stack: Stack, node: Node, context: dict) -> str:
    services = node_services(stack, node)
    variables = {
        "stack": stack, "node": node, "services": services, "images": stack.images,
        # EC2 takes 16 KB of user-data: there the node files go without their comments.
        "compact": stack.provider == "aws",
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
    """Create the PKI when needed, then write every node's user-data into the state directory.

    A node whose inputs are those of the last render keeps its file untouched (render/memo.py)."""
    user_templates = templates if templates is not None else stack.templates
    env = environment(user_templates)  # checks that a user templates directory exists
    sources = fingerprint.of_files(_search_dirs(env))
    # Frozen: one environment per set of template sources, which need no stat() per include.
    env = environment(user_templates, sources)
    with state.lock(), state.batch():  # re-entrant: ensure_pki takes both too
        pki.ensure_pki(stack, state)
        context = {
            "ca_pem": _read(state, pki.CA_CERT),
            "clients_ca_pem": _read(state, pki.CLIENTS_CA_CERT),
            "ssh_authorized_keys": [line for line in (_read(state, sshkey.PUBLIC).strip(), (stack.ssh_key or "").strip()) if line],
            "consul_key": checked_secret(state, CONSUL_KEY, stack.consul_key, new_consul_key),
            "registry_secret": checked_secret(state, REGISTRY_SECRET, stack.registry_secret, None),
            "consul_tokens": consul_tokens.ensure(stack, state),
        }
        made = memo.Memo(state)
        common = fingerprint.of_parts(fingerprint.of_code(), sources, stack, context)
        # Only the nodes of this file's group: the other groups' user-data stays as their files rendered it.
        plans = [_plan_node(state, node, made, common) for node in stack.own_group().nodes]
        due = [plan for plan in plans if plan.due]
        texts = parallel.run_all([functools.partial(_render_bytes, env, stack, plan.node, {**context, **plan.pems})
                                  for plan in due])
        for plan, data in zip(due, texts):
            plan.changed = state.write(plan.rel, data, mode=USER_DATA_MODE)
            made.record(plan.node.name, plan.inputs, data, plan.rel)
        made.save(others=tuple(n.name for n in stack.all_nodes))
        record.save_plan(state, stack)  # never what booted the stack: that is `up`'s
    return [_rendered(stack, state, plan) for plan in plans]


@dataclass
class _NodePlan:
    node: Node
    pems: dict
    rel: str
    inputs: str
    due: bool  # its inputs or its file changed since the last render
    changed: bool = False  # its user-data was written


def _plan_node(state: StateDir, node: Node, made: memo.Memo, common: str) -> _NodePlan:
    pems = {"cert_pem": _read(state, pki.node_cert(node.name)), "key_pem": _read(state, pki.node_key(node.name)),
            # Only a manager gets an engine-client pair (docs/security.md).
            "client_cert_pem": _read(state, pki.manager_client_cert(node.name)) if node.is_manager else "",
            "client_key_pem": _read(state, pki.manager_client_key(node.name)) if node.is_manager else ""}
    rel = user_data_path(node.name)
    inputs = fingerprint.of_parts(common, node.name, *pems.values())
    return _NodePlan(node, pems, rel, inputs, due=not made.unchanged(node.name, inputs, rel))


def _render_bytes(env: jinja2.Environment, stack: Stack, node: Node, context: dict) -> bytes:
    return _render(env, stack, node, context).encode()


def _rendered(stack: Stack, state: StateDir, plan: _NodePlan) -> RenderedNode:
    services = node_services(stack, plan.node)
    return RenderedNode(node=plan.node, path=state.file(plan.rel), services=services, changed=plan.changed,
                        images={s: stack.images[s] for s in services if s in stack.images})


def checked_secret(state: StateDir, name: str, given: str | None, generate, rule: tuple | None = None) -> str:
    """A secret from nodes.yml (checked there) or from secrets/<name>, which must pass the same
    check: an emptied secrets/consul-key would render `encrypt = ""`, gossip in the clear.
    rule: (pattern, what it must be); by default the one for name."""
    from blackfish.model.config import _is_consul_key

    value = state.secret(name, given, generate=generate)
    pattern, what = rule or _SECRET_RULES[name]
    ok = _is_consul_key(value) if pattern is None else bool(pattern.fullmatch(value))
    if not ok:
        raise UsageError(f"{state.file('secrets/' + name)}: not a valid {name} (must be {what}); "
                         "remove the file to have a new one generated")
    return value


_SECRET_RULES = {
    CONSUL_KEY: (None, "the base64 of 16 or 32 random bytes"),
    # Printable ASCII without spaces: it is quoted into the registry's YAML configuration.
    REGISTRY_SECRET: (re.compile(r"[\x21-\x7e]{16,}"), "at least 16 printable characters"),
}


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
def environment(user_templates: Path | None = None, sources: str | None = None) -> jinja2.Environment:
    """User templates first, then the built-ins (also as builtin/<path>); strict undefined.

    With `sources` (fingerprint.of_files of the search path) the environment takes its
    templates as they were when the digest was made, and no longer checks each file for a
    change each time it is used: other sources, another digest, another environment."""
    builtin = builtin_templates()
    loaders: list[jinja2.BaseLoader] = []
    if user_templates is not None:
        try:
            is_dir, exists = Path(user_templates).is_dir(), Path(user_templates).exists()
        except OSError as exc:  # a name too long for the file system, say
            raise UsageError(f"templates directory {str(user_templates)[:80]}...: {exc.strerror}") from None
        if not is_dir:
            why = "is not a directory" if exists else "does not exist"
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
        auto_reload=sources is None,
    )
    env.filters.update(block=yaml_block, yaml_str=yaml_str, systemd_arg=systemd_arg)
    source = functools.lru_cache(maxsize=None)(lambda name: env.loader.get_source(env, name)[0])

    @jinja2.pass_context
    def raw(context, name: str) -> str:
        """A file included as it is (no Jinja), its comment lines dropped where user-data is scarce."""
        return compacted(context, source(name))

    @jinja2.pass_context
    def compacted(context, text: str) -> str:
        return compact(text) if context.get("compact") else text

    env.globals.update(raw=raw, compacted=compacted)
    return env


def compact(text: str) -> str:
    """A node file (script, unit, configuration) without its comment-only and blank lines;
    a `#!` first line stays. Every such line in the built-in files is a comment: their
    here-documents and multi-line values hold none."""
    lines = text.splitlines(keepends=True)
    head = lines[:1] if lines and lines[0].startswith("#!") else []
    return "".join(head + [line for line in lines[len(head):] if line.strip() and not line.lstrip().startswith("#")])


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


def _search_dirs(env: jinja2.Environment) -> list[Path]:
    return [Path(p) for loader in env.loader.loaders if isinstance(loader, jinja2.FileSystemLoader)
            for p in loader.searchpath]


def _search_path(env: jinja2.Environment) -> str:
    return ", ".join(map(str, _search_dirs(env)))


def yaml_str(value: str) -> str:
    """A YAML double-quoted scalar: JSON's string syntax (a subset of YAML's), with what
    YAML would not read back as written (non-printable characters, line separators) escaped."""
    text = json.dumps(str(value), ensure_ascii=False)
    return _YAML_ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def yaml_block(text: str, indent: int) -> str:
    """`text` as a YAML literal block scalar indented by `indent` spaces, read back byte for byte.

    Text a block cannot carry exactly (control characters, Unicode line separators) falls
    back to a double-quoted scalar."""
    return _yaml_block(str(text), indent)


@functools.lru_cache(maxsize=256)  # every node has the same CAs, scripts and most units: a quarter of a render
def _yaml_block(text: str, indent: int) -> str:
    if not text or not _block_can_carry(text):
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


def _block_can_carry(text: str) -> bool:
    """No character a block scalar would change: the regular expressions cost a third of a
    render (every file of every node passes here), so ASCII text takes a scan in C first."""
    if text.isascii():
        if not text.replace("\n", "").replace("\t", "").isprintable():  # \r, other controls
            return False
    elif _YAML_ESCAPE.search(text) or "\r" in text:
        return False
    # A blank line of spaces or tabs ends with one of them.
    maybe_blank = " \n" in text or "\t\n" in text or text.endswith((" ", "\t"))
    return not (maybe_blank and _BLANK_LINE.search(text))


_SYSTEMD_PLAIN = re.compile(r"^[A-Za-z0-9_@%+=:,./\-]+$")


def systemd_arg(value) -> str:
    """One argument of a systemd Exec line: specifiers (%) and variables ($) kept literal,
    quoted when it has spaces or quotes."""
    text = str(value).replace("%", "%%").replace("$", "$$")
    if text and _SYSTEMD_PLAIN.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
