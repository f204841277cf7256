"""A plain (non-editable) `pip install .` into a clean virtualenv carries the templates:
the installed `blackfish` can write a starter nodes.yml and render every node's user-data."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration


def test_wheel_install_renders(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(REPO)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-3000:]

    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "BLACKFISH_HOME": str(tmp_path / "home"), "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    env.pop("BLACKFISH_NODES_YML", None)
    exe = str(venv / "bin" / "blackfish")
    # Run from outside the repository so nothing can be found through the source tree.
    assert subprocess.run([exe, "init", "--stack", "wheel"], cwd=work, env=env, capture_output=True).returncode == 0
    rendered = subprocess.run([exe, "render"], cwd=work, env=env, capture_output=True, text=True)
    assert rendered.returncode == 0, rendered.stderr
    user_data = tmp_path / "home" / "wheel" / "nodes" / "wheel-01.user-data"
    assert user_data.read_text().startswith("#cloud-config")
    located = subprocess.run([str(venv / "bin" / "python"), "-c", "import blackfish.render.templates_dir as t; print(t.builtin_templates())"],
                             cwd=work, env=env, capture_output=True, text=True)
    assert str(venv) in located.stdout
