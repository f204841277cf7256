"""The operating system's trust store: Linux distributions' anchor directories, macOS's System keychain.

What trusts it: curl, wget, git, Python's ssl.create_default_context(), Go programs (the docker
CLI), and Chrome/Safari on macOS. Every step needs root.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from blackfish.host import Command, Host, copy_file, probe, remove_file
from blackfish.host.trust.store import Store, Target, same_file


@dataclass(frozen=True)
class Flavor:
    """Where a Linux family keeps local trust anchors and what rebuilds its bundles from them."""

    name: str
    anchors: str
    suffix: str  # update-ca-certificates on Debian reads only *.crt
    refresh: tuple[str, ...]
    package: str  # provides refresh[0]
    # Debian's plain update-ca-certificates rebuilds the bundle without a removed anchor but
    # leaves its /etc/ssl/certs links dangling (--fresh rebuilds them), and never tells its hooks
    # (Java's cacerts: ca-certificates-java) that the CA left: they are told the way
    # update-ca-certificates tells them about a removed CA, `-/etc/ssl/certs/<name>.pem` on stdin.
    refresh_after_remove: tuple[str, ...] | None = None
    hooks: str | None = None
    linked: str | None = None  # where the refresh links an anchor, {} = its name without suffix


# mkcert's detection (truststore_linux.go): the first anchor directory that exists decides.
FLAVORS = (
    Flavor("Fedora/RHEL", "/etc/pki/ca-trust/source/anchors", ".pem", ("update-ca-trust", "extract"), "ca-certificates"),
    Flavor("Debian/Ubuntu", "/usr/local/share/ca-certificates", ".crt", ("update-ca-certificates",), "ca-certificates",
           ("update-ca-certificates", "--fresh"), "/etc/ca-certificates/update.d", "/etc/ssl/certs/{}.pem"),
    Flavor("Arch", "/etc/ca-certificates/trust-source/anchors", ".crt", ("trust", "extract-compat"), "p11-kit"),
    Flavor("SUSE", "/etc/pki/trust/anchors", ".pem", ("update-ca-certificates",), "ca-certificates"),
)
TOOLS = tuple(sorted({f.refresh[0] for f in FLAVORS} | {"security"}))

MAC_KEYCHAIN = "/Library/Keychains/System.keychain"


def linux_flavor(host: Host) -> Flavor | None:
    for flavor in FLAVORS:
        if host.path(flavor.anchors).is_dir():
            return flavor
    return None


def system_store(target: Target, host: Host) -> Store:
    return MacSystemStore(target, host) if host.is_mac else LinuxSystemStore(target, host, linux_flavor(host))


class LinuxSystemStore(Store):
    name = "system"

    def __init__(self, target: Target, host: Host, flavor: Flavor | None):
        super().__init__(target, host)
        self.flavor = flavor

    @property
    def title(self) -> str:
        return f"system trust store ({self.flavor.name})" if self.flavor else "system trust store"

    @property
    def file(self) -> Path:
        return self.host.path(self.flavor.anchors) / f"{self.target.label}{self.flavor.suffix}"

    def unavailable(self) -> str | None:
        if self.flavor is None:
            dirs = ", ".join(f.anchors for f in FLAVORS)
            return f"no known system trust store on this machine (looked for {dirs})"
        tool = self.flavor.refresh[0]
        if not self.host.has(tool):
            return f"{tool} not found (install the {self.flavor.package} package)"
        return None

    def check(self) -> bool:
        return same_file(self.file, self.target.ca_pem())

    def install(self) -> list[Command]:
        if self.check():
            return []
        return [copy_file(self.target.ca, self.file, privileged=True), Command(self.flavor.refresh, privileged=True)]

    def uninstall(self) -> list[Command]:
        if not self.file.exists():
            return []
        refresh = self.flavor.refresh_after_remove or self.flavor.refresh
        return [remove_file(self.file, privileged=True), Command(refresh, privileged=True), *self._tell_hooks()]

    def _tell_hooks(self) -> list[Command]:
        hooks = self.host.path(self.flavor.hooks) if self.flavor.hooks else None
        if hooks is None or not hooks.is_dir():
            return []
        removed = f"-{self.flavor.linked.format(self.target.label)}\n"
        return [Command((str(hook),), privileged=True, stdin=removed)
                for hook in sorted(hooks.iterdir()) if hook.is_file() and os.access(hook, os.X_OK)]


class MacSystemStore(Store):
    """The System keychain, trusted for all users (`security add-trusted-cert -d`)."""

    name = "system"
    title = "system trust store (macOS System keychain)"

    def unavailable(self) -> str | None:
        return None if self.host.has("security") else "security not found (it ships with macOS)"

    def _sha1(self) -> str | None:
        der = self.target.ca_der()
        return None if der is None else hashlib.sha1(der).hexdigest().upper()

    def check(self) -> bool:
        sha1 = self._sha1()
        if sha1 is None:
            return False
        listing = probe(["security", "find-certificate", "-a", "-Z", MAC_KEYCHAIN]).stdout
        return sha1 in listing.upper()

    def install(self) -> list[Command]:
        if self.check():
            return []
        return [Command(("security", "add-trusted-cert", "-d", "-r", "trustRoot", "-k", MAC_KEYCHAIN,
                         str(self.target.ca)), privileged=True)]

    def uninstall(self) -> list[Command]:
        # The keychain knows the CA by its hash, not by a name we chose: it needs ca.pem.
        if not self.check():
            return []
        return [
            Command(("security", "remove-trusted-cert", "-d", str(self.target.ca)), privileged=True),
            Command(("security", "delete-certificate", "-Z", self._sha1(), MAC_KEYCHAIN), privileged=True),
        ]
