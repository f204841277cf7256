"""Docker's per-registry trust: `certs.d/<host>:<port>/blackfish-<stack>.crt`.

dockerd reads every `*.crt` in `/etc/docker/certs.d/<registry>/` as a CA for that registry, on
each pull and push (no restart). Docker Desktop on macOS reads `~/.docker/certs.d/` the same way.
The file is named after the stack, not `ca.crt`: a `ca.crt` the user put there stays untouched,
and two stacks whose registries share an address can both be trusted. Installed for
`registry.service.<stack>:5000` and for `<ip>:5000` of every docker-registry node.
"""

from __future__ import annotations

from pathlib import Path

from blackfish.host import Command, copy_file, make_dir, remove_file
from blackfish.host.trust.store import Store, same_file

TOOLS = ("docker", "dockerd")
LINUX_CERTS_D = "/etc/docker/certs.d"


class DockerStore(Store):
    name = "docker"

    @property
    def certs_d(self) -> Path:
        return self.host.home / ".docker/certs.d" if self.host.is_mac else self.host.path(LINUX_CERTS_D)

    @property
    def privileged(self) -> bool:
        return not self.host.is_mac

    @property
    def title(self) -> str:
        return f"docker registries ({self.certs_d})"

    @property
    def file_name(self) -> str:
        return f"{self.target.label}.crt"

    def files(self) -> list[Path]:
        return [self.certs_d / registry / self.file_name for registry in self.target.registries]

    def unavailable(self) -> str | None:
        if self.host.has("docker") or self.host.has("dockerd") or self.certs_d.parent.is_dir():
            return None
        return "docker is not installed"

    def up_to_date(self) -> str:
        return "already installed" if self.target.registries else "nothing to install: the stack has no docker-registry node"

    def check(self) -> bool:
        ca = self.target.ca_pem()
        return all(same_file(path, ca) for path in self.files())

    def install(self) -> list[Command]:
        ca = self.target.ca_pem()
        commands: list[Command] = []
        for path in self.files():
            if same_file(path, ca):
                continue
            if not path.parent.is_dir():
                commands.append(make_dir(path.parent, self.privileged))
            commands.append(copy_file(self.target.ca, path, self.privileged))
        return commands

    def uninstall(self) -> list[Command]:
        # Found by name, not from the stack's current registries: an address the stack no
        # longer has is removed too.
        commands: list[Command] = []
        emptied = set()
        for path in sorted(self.certs_d.glob(f"*/{self.file_name}")):
            commands.append(remove_file(path, self.privileged))
            if [p.name for p in path.parent.iterdir()] == [path.name]:
                commands.append(self._rmdir(path.parent))
                emptied.add(path.parent)
        if emptied and set(self.certs_d.iterdir()) <= emptied:
            commands.append(self._rmdir(self.certs_d))
        return commands

    def _rmdir(self, path: Path) -> Command:
        return Command(("rmdir", str(path)), self.privileged)
