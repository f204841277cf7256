"""Docker-provider stacks for the cluster tests and the cluster benchmark.

node_image(): the default node image, built with images/node/build-offline when the engine
lacks it (no registry is reachable here). registry_image(): Debian's docker-registry as an
image whose default command serves /etc/distribution/config.yml, like registry:3.
ClusterStack: a nodes.yml in its own directory, a private BLACKFISH_HOME, and the real CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.images import debian_image

REPO = Path(__file__).resolve().parents[2]
REGISTRY_BASE_IMAGE = "blackfish-test/registry:2"  # Debian's docker-registry
REGISTRY_IMAGE = "blackfish-test/registry-serve:2"


def has_image(name: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode == 0


def node_image() -> str:
    """The default node image (what `blackfish up --provider docker` uses), built offline once."""
    from blackfish.providers.docker.image import DEFAULT_IMAGE

    if not has_image(DEFAULT_IMAGE):
        built = subprocess.run([str(REPO / "images" / "node" / "build-offline"), DEFAULT_IMAGE],
                               capture_output=True, text=True)
        if built.returncode != 0:
            raise RuntimeError(f"images/node/build-offline failed:\n{built.stderr[-3000:]}")
    return DEFAULT_IMAGE


def registry_image() -> str:
    """A distribution registry from Debian's docker-registry package, serving like registry:3."""
    if not has_image(REGISTRY_IMAGE):
        base = debian_image(REGISTRY_BASE_IMAGE, ["docker-registry"])
        dockerfile = f'FROM {base}\nCMD ["/usr/bin/docker-registry", "serve", "/etc/distribution/config.yml"]\n'
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "Dockerfile").write_text(dockerfile)
            subprocess.run(["docker", "build", "-q", "-t", REGISTRY_IMAGE, tmp], check=True, capture_output=True)
    return REGISTRY_IMAGE


class ClusterStack:
    """One docker-provider stack, driven through the real `blackfish` command line."""

    def __init__(self, name: str, workdir: Path, nodes_yml: str):
        self.name = name
        self.workdir = workdir
        self.home = workdir / "home"
        self.nodes_file = workdir / "nodes.yml"
        self.nodes_file.write_text(nodes_yml)
        self.env = {**os.environ, "BLACKFISH_HOME": str(self.home)}
        self.env.pop("BLACKFISH_NODES_YML", None)
        self.env.pop("BLACKFISH_NODE_IMAGE", None)

    def cli(self, *args: str, timeout: float = 900, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "blackfish", *args], cwd=self.workdir, env=self.env,
                              capture_output=True, text=True, timeout=timeout, input=input)

    def run_ok(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        result = self.cli(*args, timeout=timeout)
        assert result.returncode == 0, f"blackfish {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result

    def ok(self, *args: str, timeout: float = 900) -> str:
        return self.run_ok(*args, timeout=timeout).stdout

    def up(self, *extra: str) -> str:
        return self.ok("up", self.name, "--provider", "docker", "--parallel", "4", *extra)

    def docker(self, *args: str) -> str:
        """`blackfish STACK ARGS...`: the docker CLI through the proxy."""
        return self.ok(self.name, *args)

    def on_node(self, node: str, *command: str) -> subprocess.CompletedProcess:
        return self.cli("ssh", self.name, node, "--", *command)

    def status(self) -> dict[str, dict]:
        return {row["node"]: row for row in json.loads(self.ok("status", self.name, "--json"))}

    def swarm_nodes(self) -> dict[str, tuple[str, str]]:
        """hostname -> (node ID, status) of the swarm's ready nodes, from `node ls`."""
        # JSON rows: a node that has joined but not yet reported its description has no hostname.
        out = self.docker("node", "ls", "--format", "{{json .}}")
        rows = [json.loads(line) for line in out.splitlines() if line.strip()]
        return {row["Hostname"]: (row["ID"], row["Status"]) for row in rows if row["Status"] == "Ready"}

    def labelled(self, kind: str) -> list[str]:
        """IDs of the containers, volumes or networks that carry the stack's label."""
        args = {"container": ["ps", "-a", "-q"], "volume": ["volume", "ls", "-q"], "network": ["network", "ls", "-q"]}[kind]
        out = subprocess.run(["docker", *args, "--filter", f"label=io.blackfish.stack={self.name}"],
                             capture_output=True, text=True, check=True).stdout
        return out.split()

    def destroy(self) -> subprocess.CompletedProcess:
        return self.cli("destroy", self.name, "--yes")

    def remove_leftovers(self) -> None:
        """Remove what an interrupted earlier run left with this stack's label."""
        for kind, remove in (("container", ["rm", "-f", "-v"]), ("volume", ["volume", "rm", "-f"]),
                             ("network", ["network", "rm"])):
            ids = self.labelled(kind)
            if ids:
                subprocess.run(["docker", *remove, *ids], capture_output=True)
