"""Shell code that sets or unsets environment variables, for bash, zsh, fish and PowerShell.

`blackfish env` prints it (the way `docker-machine env` did); the user's shell evaluates it.
Values are quoted for the target shell, so paths with spaces or quotes survive the eval.
"""

from __future__ import annotations

import os

SHELLS = ("bash", "zsh", "fish", "powershell")


def detect(environ=None) -> str:
    """The user's shell from $SHELL (bash when unknown: its syntax also suits sh and zsh)."""
    environ = os.environ if environ is None else environ
    name = os.path.basename(environ.get("SHELL", ""))
    if name in ("pwsh", "powershell"):
        return "powershell"
    return name if name in SHELLS else "bash"


def _fish_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _powershell_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def script(shell: str, set_vars: dict[str, str], unset_vars=(), usage: str | None = None) -> str:
    """Lines that set `set_vars` and unset `unset_vars` in `shell`, then `usage` as a comment.

    Every fish line ends in `;` because `eval (cmd)` joins the lines into one; the comment comes
    last for the same reason."""
    if shell in ("bash", "zsh"):
        from shlex import quote

        lines = [f"export {k}={quote(v)}" for k, v in set_vars.items()]
        lines += [f"unset {k}" for k in unset_vars]
    elif shell == "fish":
        lines = [f"set -gx {k} {_fish_quote(v)};" for k, v in set_vars.items()]
        lines += [f"set -e {k};" for k in unset_vars]
    elif shell == "powershell":
        lines = [f"$Env:{k} = {_powershell_quote(v)}" for k, v in set_vars.items()]
        lines += [f"Remove-Item Env:\\{k} -ErrorAction SilentlyContinue" for k in unset_vars]
    else:
        raise ValueError(f"unknown shell {shell!r}; choose one of {', '.join(SHELLS)}")
    if usage:
        lines.append(f"# {usage}")
    return "\n".join(lines) + "\n"


def usage(shell: str, command: str) -> str:
    """How to apply `command`'s output in `shell`."""
    if shell == "fish":
        return f"Run this command to configure your shell: {command} | source"
    if shell == "powershell":
        return f"Run this command to configure your shell: & {command} | Invoke-Expression"
    return f'Run this command to configure your shell: eval "$({command})"'


def stack_env(stack_name: str | None, shell: str, unset: bool = False, shell_given: bool = False, warn=None) -> str:
    """`blackfish env`: the exports aiming the docker CLI at a healthy manager of the stack
    (unsetting proxy.OVERRIDES, as a proxy call does), or with `unset` their removal."""
    from shlex import quote

    from blackfish import proxy

    command = " ".join(["blackfish", "env", *([quote(stack_name)] if stack_name else []),
                        *(["--shell", shell] if shell_given else []), *(["--unset"] if unset else [])])
    if unset:
        return script(shell, {}, proxy.ENV_NAMES, usage(shell, command))
    manager, cert_path = proxy.choose(stack_name, warn=warn)
    return script(shell, proxy.docker_env(manager, cert_path), proxy.OVERRIDES, usage(shell, command))
