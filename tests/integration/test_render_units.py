"""Every rendered unit is a valid systemd unit: `systemd-analyze verify` on a root filesystem
holding the node's write_files, its units and drop-ins, and stand-ins for the programs the
units run that a Flatcar node has (docker, rkt, coreutils)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from blackfish.render import cloudinit
from tests.conftest import needs, needs_tool
from tests.support.rendered import render_yaml

pytestmark = pytest.mark.integration

STACK = """
    stack: units
    provider: docker
    admin-network: 10.242.0.0/24
    labels: {env: test}
    journald-sink: logs.example.net:5140
    influxdb-url: http://metrics.example.net:8086
    nodes:
      - ip: 10.242.0.31
        docker-registry: true
        lb: true
      - ip: 10.242.0.32
"""

# The engine's own units, shaped like the ones Flatcar's docker sysext and Debian's docker.io ship.
ENGINE_UNITS = {
    "docker.socket": "[Unit]\nDescription=Docker Socket for the API\n\n[Socket]\nListenStream=/run/docker.sock\n"
                     "SocketMode=0660\n\n[Install]\nWantedBy=sockets.target\n",
    "docker.service": "[Unit]\nDescription=Docker Application Container Engine\nAfter=docker.socket\nRequires=docker.socket\n\n"
                      "[Service]\nType=notify\nExecStart=/usr/bin/dockerd --host=fd://\n\n[Install]\nWantedBy=multi-user.target\n",
}
EXEC = re.compile(r"^(?:ExecStart|ExecStartPre|ExecStartPost|ExecStop|ExecStopPost|ExecReload)=[-@+!:]*(\S+)", re.M)


def node_root(tmp_path: Path, config: cloudinit.CloudConfig) -> Path:
    """A root filesystem as the node has it after its user-data was applied."""
    root = tmp_path / "root"
    shutil.copytree("/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    for name, content in ENGINE_UNITS.items():
        (root / "usr/lib/systemd/system" / name).write_text(content)
    for f in config.write_files:
        path = root / f.path.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f.data)
        path.chmod(f.mode)
    programs = {"/usr/bin/dockerd"}
    for unit in config.units:
        target = root / unit.path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if unit.content:
            target.write_text(unit.content)
        for drop_in in unit.drop_ins:
            (target.parent / f"{unit.name}.d").mkdir(exist_ok=True)
            (target.parent / f"{unit.name}.d" / drop_in.name).write_text(drop_in.content)
        programs |= set(EXEC.findall(unit.content))
    for program in programs:
        path = root / program.lstrip("/")
        if not path.exists():  # not one of the node's own scripts: a stand-in for what Flatcar has
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("#!/bin/sh\nexit 0\n")
            path.chmod(0o755)
    return root


def verify(root: Path, names: list[str]) -> tuple[int, list[str]]:
    """systemd-analyze verify's exit code, and its complaints about these units."""
    proc = subprocess.run(["systemd-analyze", "verify", f"--root={root}", *names], capture_output=True, text=True)
    ours = [line for line in proc.stderr.splitlines()
            if "/etc/systemd/system/" in line or any(line.startswith(f"{n}:") for n in names)]
    return proc.returncode, ours


def rendered_configs(tmp_path: Path, extra: str = ""):
    _, _, nodes = render_yaml(STACK + extra, tmp_path)
    return [cloudinit.parse(n.path.read_text(), str(n.path)) for n in nodes]


@pytest.fixture(autouse=True)
def tools():
    needs_tool("systemd-analyze", "systemd")
    needs(Path("/lib/systemd/system/multi-user.target").exists(), "systemd's own units are missing (apt-get install systemd)")


@pytest.mark.parametrize("runtime", ["docker", "rkt"])
def test_every_rendered_unit_passes_systemd_analyze_verify(tmp_path, runtime):
    for i, config in enumerate(rendered_configs(tmp_path, f"    runtime: {runtime}\n")):
        root = node_root(tmp_path / str(i), config)
        names = sorted({u.name for u in config.units if u.content})
        assert "blackfish-swarm.service" in names and "docker-tls-tcp.socket" in names
        code, complaints = verify(root, names)
        assert (code, complaints) == (0, []), f"{config.hostname}: {complaints}"


def test_the_drop_in_is_part_of_the_engine_unit(tmp_path):
    config = rendered_configs(tmp_path)[1]
    root = node_root(tmp_path, config)
    proc = subprocess.run(["systemd-analyze", "verify", f"--root={root}", "docker.service"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    drop_in = root / "etc/systemd/system/docker.service.d/10-blackfish.conf"
    assert "Wants=docker-tls-tcp.socket" in drop_in.read_text()


def test_the_check_catches_a_broken_unit(tmp_path):
    config = rendered_configs(tmp_path)[1]
    root = node_root(tmp_path, config)
    unit = root / "etc/systemd/system/blackfish-swarm.service"
    unit.write_text(unit.read_text().replace("ExecStart=/opt/blackfish/bin/swarm-bootstrap", "ExecStrat=/opt/blackfish/bin/swarm-bootstrap"))
    code, complaints = verify(root, ["blackfish-swarm.service"])
    assert complaints and "Unknown key" in complaints[0]
    (root / "opt/blackfish/bin/swarm-bootstrap").unlink()
    unit.write_text(unit.read_text().replace("ExecStrat=", "ExecStart="))
    code, complaints = verify(root, ["blackfish-swarm.service"])
    assert code != 0 and "is not executable" in complaints[-1]
