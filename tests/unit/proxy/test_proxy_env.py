"""`blackfish env` exports and `blackfish context` arguments, checked by the real shells and docker CLI."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from blackfish import proxy

from blackfish.proxy import shellenv
from blackfish.proxy.context import context_argv
from tests.conftest import needs_tool
from tests.support.proxy_stack import recorded_stack

NASTY = {"DOCKER_HOST": "tcp://10.0.0.1:2376", "DOCKER_CERT_PATH": "/home/a b/it's \"$HOME\" \\ `x`;"}


def _shell_argv(shell: str, text: str) -> list[str]:
    dump = "env | grep ^DOCKER_ | sort"
    if shell == "fish":
        return ["fish", "--no-config", "-c", f"set -gx DOCKER_CONTEXT laptop; {text}\n{dump}"]
    return [shell, "-c", f"export DOCKER_CONTEXT=laptop\n{text}\n{dump}"]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_exports_survive_the_real_shell_with_any_path(shell):
    needs_tool(shell)
    text = shellenv.script(shell, NASTY, ("DOCKER_CONTEXT",), shellenv.usage(shell, "blackfish env s"))
    done = subprocess.run(_shell_argv(shell, text), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.splitlines() == sorted(f"{k}={v}" for k, v in NASTY.items())


def test_fish_eval_of_the_joined_lines_works_too():
    # `eval (blackfish env s)` joins the output into one line: every statement ends in `;`.
    needs_tool("fish")
    text = shellenv.script("fish", NASTY, ("DOCKER_CONTEXT",), shellenv.usage("fish", "blackfish env s"))
    done = subprocess.run(["fish", "--no-config", "-c", f"eval {_fish_literal(' '.join(text.splitlines()))}; echo $DOCKER_CERT_PATH"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == NASTY["DOCKER_CERT_PATH"] + "\n"


def _fish_literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@pytest.mark.parametrize("shell", ["bash", "fish"])
def test_unset_removes_what_env_set(shell):
    needs_tool(shell)
    names = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")
    text = shellenv.script(shell, {**NASTY, "DOCKER_TLS_VERIFY": "1"}) + shellenv.script(shell, {}, names)
    done = subprocess.run(_shell_argv(shell, text), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "DOCKER_CONTEXT=laptop\n"


def test_powershell_quotes_by_doubling():
    text = shellenv.script("powershell", {"DOCKER_CERT_PATH": "C:\\it's here"}, ("DOCKER_CONTEXT",))
    assert text == "$Env:DOCKER_CERT_PATH = 'C:\\it''s here'\nRemove-Item Env:\\DOCKER_CONTEXT -ErrorAction SilentlyContinue\n"


def test_the_shell_comes_from_SHELL():
    assert shellenv.detect({"SHELL": "/usr/bin/fish"}) == "fish"
    assert shellenv.detect({"SHELL": "/bin/zsh"}) == "zsh"
    assert shellenv.detect({"SHELL": "/usr/local/bin/pwsh"}) == "powershell"
    assert shellenv.detect({"SHELL": "/bin/tcsh"}) == "bash"
    assert shellenv.detect({}) == "bash"


def test_context_takes_the_tls_files_even_from_a_path_with_commas(tmp_path, monkeypatch):
    # The docker CLI reads --docker as CSV: a comma in the state directory's path must be quoted.
    docker = needs_tool("docker", "docker.io")
    monkeypatch.setenv("BLACKFISH_HOME", str(tmp_path / "home, with comma"))
    _, state = recorded_stack("s", ("10.0.0.1",), "10.0.0.0/24")
    manager = proxy.Manager("s-01", "10.0.0.1", 2376)
    env = {"DOCKER_CONFIG": str(tmp_path / "docker-config"), "PATH": os.environ["PATH"]}

    def run(*argv: str) -> str:
        done = subprocess.run(argv, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    run(*context_argv(docker, "create", "s", manager, str(state.path)))
    endpoint = json.loads(run(docker, "context", "inspect", "blackfish-s"))[0]["Endpoints"]["docker"]
    assert endpoint["Host"] == "tcp://10.0.0.1:2376" and endpoint["SkipTLSVerify"] is False
    stored = Path(json.loads(run(docker, "context", "inspect", "--format", "{{json .Storage}}", "blackfish-s"))["TLSPath"])
    for name in ("ca.pem", "cert.pem", "key.pem"):
        assert (stored / "docker" / name).read_bytes() == state.file(name).read_bytes()
