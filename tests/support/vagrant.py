"""Helpers for Vagrant provider tests: a private VAGRANT_HOME, a stand-in VirtualBox, a tiny box.

VirtualBox cannot run on the test machines (no kernel modules), and Vagrant refuses to answer
even `status` for a provider it cannot use. `vboxmanage_stand_in()` puts a `VBoxManage` on PATH that
only reports a version: enough for Vagrant to call the provider usable (so the REAL vagrant
validates the virtualbox block and reports machine states), and every other VBoxManage call
fails, as it would on a broken install. Nothing here boots a VM.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import textwrap
from pathlib import Path

from blackfish.model import config
from blackfish.model.stack import Stack, plan
from blackfish.state import StateDir

CONSUL_KEY = "c2VjcmV0LWdvc3NpcC1rZXktMzItYnl0ZXMtbG9uZyE="
REGISTRY_SECRET = "registry-secret-never-in-the-vagrantfile"

# The documented host-only range: vagrant never configures these addresses here.
NODES_YML = f"""\
stack: vt
provider: virtualbox
admin-network: 192.168.56.0/24
consul-key: {CONSUL_KEY}
registry-secret: {REGISTRY_SECRET}
nodes:
  - ip: 192.168.56.11
    memory: 1536
    cpus: 1
    docker-registry: true
  - ip: 192.168.56.12
    memory: 3072
    cpus: 3
  - name: edge
    ip: 192.168.56.13
    lb: true
"""


def write_nodes(directory: Path, text: str = NODES_YML, **replace: str) -> Path:
    for old, new in replace.items():
        text = text.replace(old, new)
    path = directory / "nodes.yml"
    path.write_text(textwrap.dedent(text))
    return path


def planned(path: Path) -> Stack:
    return plan(config.load(path).config, source=path)


def render(stack: Stack, home: Path) -> StateDir:
    """The state directory as `up` makes it before Vagrant runs: PKI, user-data, Vagrantfile."""
    from blackfish.providers.vagrant.provider import write_vagrantfile
    from blackfish.render import render_stack

    state = StateDir(stack.name, home)
    render_stack(stack, state)
    write_vagrantfile(stack, state)
    return state


def vboxmanage_stand_in(bin_dir: Path, version: str = "7.0.14r161095") -> Path:
    """A VBoxManage that answers `--version` and fails everything else; returns bin_dir."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "VBoxManage"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        if [ "$1" = --version ]; then echo {version}; exit 0; fi
        echo "VBoxManage stand-in: no VirtualBox on this machine ($*)" >&2
        exit 1
        """))
    script.chmod(0o755)
    return bin_dir


def tiny_box(path: Path, provider: str = "virtualbox") -> Path:
    """A minimal box file: `vagrant box add` accepts it; booting it fails at VBoxManage import."""
    data = json.dumps({"provider": provider}).encode()
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("metadata.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


def vagrant_env(vagrant_home: Path, path_prefix: Path | None = None, **extra: str) -> dict:
    """Environment for a CLI subprocess: private VAGRANT_HOME, no update checks."""
    env = {"VAGRANT_HOME": str(vagrant_home), "VAGRANT_CHECKPOINT_DISABLE": "1", **extra}
    if path_prefix is not None:
        env["PATH"] = f"{path_prefix}{os.pathsep}{os.environ.get('PATH', '')}"
    return env


def tree(root: Path) -> dict[str, tuple]:
    """Every file and directory under root (root included): mode, mtime in ns, and bytes."""
    found: dict[str, tuple] = {}
    if not root.exists():
        return found
    for dirpath, dirs, files in os.walk(root):
        for name in [".", *dirs, *files]:
            path = Path(dirpath, name) if name != "." else Path(dirpath)
            st = path.lstat()
            content = path.read_bytes() if path.is_file() else None
            found[str(path.relative_to(root.parent))] = (st.st_mode, st.st_mtime_ns, content)
    return found
