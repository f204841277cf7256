"""Running the real packer on packer/ the way the tests need: private HOME, no network."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import REPO, needs_tool

PACKER_DIR = REPO / "packer"
TEMPLATE = PACKER_DIR / "blackfish.pkr.hcl"
# A release to fill in the required `version` variable; nothing is downloaded.
RELEASE = "4459.2.0"
# Any attempt to reach the network fails at once instead of passing by luck.
NO_NETWORK = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    home.mkdir(exist_ok=True)
    return {**os.environ, "HOME": str(home), "PACKER_CONFIG_DIR": str(home), "CHECKPOINT_DISABLE": "1",
            "PACKER_CACHE_DIR": str(home / "cache"), **NO_NETWORK, **extra}


def packer(tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    exe = needs_tool("packer")
    return subprocess.run([exe, *args], cwd=REPO, env=isolated_env(tmp_path / "home"), input=stdin,
                          capture_output=True, text=True, timeout=120)


def template_images(tmp_path: Path, *var_args: str) -> list[str]:
    """The images the template pulls, as packer itself evaluates them (`packer console`)."""
    result = packer(tmp_path, "console", "-var", f"version={RELEASE}", *var_args, str(TEMPLATE),
                    stdin="local.images\n")
    assert result.returncode == 0, result.stdout + result.stderr
    return [line.strip().rstrip(",").strip('"') for line in result.stdout.splitlines()
            if line.strip().startswith('"')]
