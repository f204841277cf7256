"""The container images a node's user-data runs: every `docker run` / `rkt run` in it.

Reads the files, units and drop-ins of a parsed cloud-config (blackfish.render.cloudinit) as text,
finds each `docker run` (or `docker container run`, `docker create`) and `rkt run`/`rkt fetch`
command, and takes its image: the first argument after docker's options, or each
`docker://` argument of rkt. `$VAR`/`${VAR}` in an image is resolved from the assignments
found in the same user-data (`VAR=...` lines, `Environment=VAR=...`); an image that cannot
be resolved is an error, so a test built on this cannot pass by skipping one.
"""

from __future__ import annotations

import re
import shlex

from blackfish.render import cloudinit

# docker run's options that take no value (docker 28 `docker run --help`); every other
# option without `=value` consumes the next argument.
_BOOL_LONG = {
    "--detach", "--interactive", "--tty", "--rm", "--init", "--privileged", "--read-only",
    "--publish-all", "--no-healthcheck", "--oom-kill-disable", "--quiet", "--disable-content-trust",
    "--sig-proxy", "--help", "--use-api-socket",
}
_BOOL_SHORT = set("ditPq")
# docker's own options, before the command word (`docker -H unix:///... run ...`).
_GLOBAL_BOOL = {"--tls", "--tlsverify", "-D", "--debug"}
_ASSIGNMENT = re.compile(r"^\s*(?:export\s+|Environment=\"?)?([A-Za-z_][A-Za-z0-9_]*)=(.*?)\"?\s*$")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def texts(config: cloudinit.CloudConfig) -> dict[str, str]:
    """Where -> text of every file, unit and drop-in the user-data writes."""
    found = {f.path: f.data.decode("utf-8", "replace") for f in config.write_files}
    for unit in config.units:
        found[unit.path] = unit.content
        for drop_in in unit.drop_ins:
            found[f"{unit.path}.d/{drop_in.name}"] = drop_in.content
    return found


def _logical_lines(text: str) -> list[str]:
    return text.replace("\\\n", " ").splitlines()


def _words(line: str) -> list[str]:
    try:
        return shlex.split(line, comments=True)
    except ValueError:  # not shell (an unbalanced quote in a config file): no command here
        return []


def _docker_image(args: list[str]) -> str | None:
    """The image of `docker ARGS` when ARGS is a run/create command, else None."""
    while args and args[0].startswith("-"):
        args = args[1:] if "=" in args[0] or args[0] in _GLOBAL_BOOL else args[2:]
    if args[:2] == ["container", "run"] or args[:2] == ["container", "create"]:
        args = args[2:]
    elif args[:1] in (["run"], ["create"]):
        args = args[1:]
    else:
        return None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            i += 1 if "=" in arg or arg in _BOOL_LONG else 2
        elif arg.startswith("-") and len(arg) > 1:
            flags = arg[1:]
            takes_value = next((j for j, c in enumerate(flags) if c not in _BOOL_SHORT), None)
            # `-p 80:80` takes the next word; `-p80:80` or `-itp80:80` carries its value.
            i += 2 if takes_value is not None and takes_value == len(flags) - 1 else 1
        else:
            return arg
    return None


def commands(text: str) -> list[tuple[str, list[str]]]:
    """(runtime, image arguments) of every container-starting command in the text."""
    found = []
    for line in _logical_lines(text):
        words = _words(line)
        for i, word in enumerate(words):
            program = word.rsplit("=", 1)[-1].lstrip("-@+!:").rsplit("/", 1)[-1]
            if program == "docker":
                image = _docker_image(words[i + 1:])
                if image is not None:
                    found.append(("docker", [image]))
            elif program == "rkt" and words[i + 1:i + 2] in (["run"], ["fetch"]):
                refs = [w for w in words[i + 2:] if w.startswith("docker://")]
                found.append(("rkt", [r.removeprefix("docker://") for r in refs]))
    return found


def images(config: cloudinit.CloudConfig) -> set[str]:
    """Every image reference the user-data's commands run, variables resolved."""
    everything = texts(config)
    env: dict[str, str] = {}
    for text in everything.values():
        for line in _logical_lines(text):
            match = _ASSIGNMENT.match(line)
            if match:
                env.setdefault(match.group(1), match.group(2).strip("'\""))
    refs: set[str] = set()
    for where, text in everything.items():
        for _runtime, found in commands(text):
            for ref in found:
                resolved = _VARIABLE.sub(lambda m: env.get(m.group(1) or m.group(2), m.group(0)), ref)
                if "$" in resolved:
                    raise AssertionError(f"{where}: cannot resolve the image {ref!r} of a container command")
                refs.add(resolved)
    return refs
