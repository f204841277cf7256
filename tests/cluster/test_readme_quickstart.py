"""The README's quick start, run as written: its first command (`pip install . && blackfish up
--provider docker`) in a fresh virtualenv, from a copy of the repository, boots the example
nodes.yml into a 3-node swarm; its second command is what CI runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.support.cluster import ClusterStack

pytestmark = pytest.mark.cluster


def quick_start_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = text.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]


def test_ci_runs_the_readme_test_command():
    _, test_command = quick_start_commands()
    assert test_command == "scripts/test"
    assert "exec scripts/test" in (REPO / ".ci" / "run").read_text()


def test_the_readme_quick_start_boots_the_example_stack(tmp_path, built_node_image):
    install_and_up, _ = quick_start_commands()
    source = tmp_path / "blackfish"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".venv", ".cache", ".git", "__pycache__", "*.egg-info"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "BLACKFISH_HOME": str(tmp_path / "home")}
    for name in ("BLACKFISH_NODES_YML", "BLACKFISH_NODE_IMAGE", "VIRTUAL_ENV"):
        env.pop(name, None)
    example = ClusterStack("vagrant", tmp_path, (REPO / "nodes.yml").read_text())
    example.env = env
    example.remove_leftovers()
    try:
        booted = subprocess.run(["bash", "-c", install_and_up], cwd=source, env=env,
                                capture_output=True, text=True, timeout=1200)
        assert booted.returncode == 0, booted.stdout[-3000:] + booted.stderr[-3000:]
        assert shutil.which("blackfish", path=env["PATH"]) == str(venv / "bin" / "blackfish")
        nodes = subprocess.run(["blackfish", "vagrant", "node", "ls", "--format", "{{.Hostname}} {{.Status}}"],
                               env=env, capture_output=True, text=True, timeout=120)
        assert nodes.returncode == 0, nodes.stderr
        assert sorted(nodes.stdout.split("\n")[:-1]) == [f"vagrant-0{i} Ready" for i in (1, 2, 3)]
    finally:
        subprocess.run(["blackfish", "destroy", "vagrant", "--yes"], env=env, capture_output=True, timeout=300)
        example.remove_leftovers()
    assert example.labelled("container") == []
