"""Shared test helpers: running the real CLI, a private BLACKFISH_HOME, and `needs()`.

A test that cannot start a component it needs calls needs(...): it skips with the reason,
except under CI=true, where a missing component is a failure (CI must run everything).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "nodes.yml"
IN_CI = os.environ.get("CI", "").lower() == "true"


def needs(ok: bool, reason: str) -> None:
    """Skip (fail under CI=true) when a component the test needs is unavailable."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"CI=true and a required component is missing: {reason}", pytrace=False)
    pytest.skip(reason)


def needs_tool(name: str, package: str | None = None) -> str:
    path = shutil.which(name)
    needs(path is not None, f"{name} is not installed (apt-get install {package or name})")
    return path


def docker_engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def needs_docker() -> None:
    needs(docker_engine_answers(), "no docker engine answers (scripts/start-dockerd starts one as root)")


@pytest.fixture
def bf_home(tmp_path, monkeypatch) -> Path:
    """A fresh, private BLACKFISH_HOME for the test (and the CLI processes it runs)."""
    home = tmp_path / "blackfish-home"
    monkeypatch.setenv("BLACKFISH_HOME", str(home))
    monkeypatch.delenv("BLACKFISH_NODES_YML", raising=False)
    return home


class Result(subprocess.CompletedProcess):
    @property
    def out(self) -> str:
        return self.stdout

    @property
    def err(self) -> str:
        return self.stderr


def blackfish(*args: str, cwd: Path | None = None, env: dict | None = None, input: str | None = None,
              timeout: float = 600) -> Result:
    """Run the real `blackfish` command line, as a user would, and capture what it prints."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "blackfish", *args], cwd=cwd, env=full_env, input=input,
        capture_output=True, text=True, timeout=timeout,
    )
    proc.__class__ = Result
    return proc


def assert_no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout, result.stdout


def needs_netlab() -> None:
    """Network namespaces for private test networks, with dockerd to run in them (tests/support/netlab.py)."""
    from tests.support import netlab

    ok, reason = netlab.available()
    needs(ok, reason)
    needs_tool("dockerd", "docker.io")
    needs_tool("docker", "docker.io")
