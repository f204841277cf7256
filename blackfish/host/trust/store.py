"""What every trust store shares: the CA being installed (Target) and the three verbs (Store).

Following mkcert's truststore_*.go, each store is one small class with the same verbs:
check() says whether the CA is already there, install() and uninstall() return the commands
that add it or remove every trace of it. They only plan; blackfish.host.Runner prints and runs.
Everything installed is named after the stack (`blackfish-<stack>`), so two stacks coexist and
uninstall can find exactly what install added, even after the state directory is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from blackfish.errors import UsageError
from blackfish.host import Command, Host
from blackfish.model.naming import stack_name_problem


@dataclass(frozen=True)
class Target:
    """One stack's CA and the registry addresses (host:port) docker must trust it for."""

    stack: str
    ca: Path
    registries: tuple[str, ...] = ()

    def __post_init__(self):
        # The name goes into file names and a glob (docker uninstall): no separators, no wildcards.
        if problem := stack_name_problem(self.stack):
            raise UsageError(f"{self.stack!r} is not a stack name: {problem}")

    @property
    def label(self) -> str:
        """The name of everything installed: file names, the NSS nickname."""
        return f"blackfish-{self.stack}"

    def ca_pem(self) -> bytes | None:
        try:
            return self.ca.read_bytes()
        except FileNotFoundError:
            return None

    def ca_der(self) -> bytes | None:
        pem = self.ca_pem()
        return None if pem is None else pem_to_der(pem)


class Store:
    """One trust store on this host; subclasses fill in the verbs."""

    name = ""  # what `--only` calls it

    def __init__(self, target: Target, host: Host):
        self.target = target
        self.host = host

    @property
    def title(self) -> str:
        return self.name

    def unavailable(self) -> str | None:
        """Why this store cannot be used on this host (with what to install), or None."""
        return None

    def check(self) -> bool:
        """True when the stack's current CA is installed everywhere this store covers."""
        raise NotImplementedError

    def install(self) -> list[Command]:
        """The commands that install the CA where it is missing or outdated (none when current)."""
        raise NotImplementedError

    def uninstall(self) -> list[Command]:
        """The commands that remove what install added (none when nothing is there)."""
        raise NotImplementedError

    def up_to_date(self) -> str:
        """What to say when install has nothing to do."""
        return "already installed"


def same_file(path: Path, content: bytes | None) -> bool:
    try:
        return content is not None and path.read_bytes() == content
    except (FileNotFoundError, NotADirectoryError):
        return False


def pem_to_der(pem: bytes) -> bytes:
    """The DER of the first certificate in pem (stores compare certificates, not their encoding)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
