"""NSS certificate databases: Chromium/Chrome on Linux (~/.pki/nssdb) and every Firefox profile.

Browsers do not read the system bundle on Linux, and Firefox never does (it ships its own roots):
the CA goes into each NSS database with `certutil` (libnss3-tools). The nickname is
`blackfish-<stack>`; uninstall deletes that nickname and nothing else. On Linux ~/.pki/nssdb is
created when absent (Chromium creates the same empty database on first start) so a browser
installed later still finds the CA.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from blackfish.host import Command, Host, make_dir, probe
from blackfish.host.trust.store import Store, pem_to_der

TOOLS = ("certutil",)

# Where Firefox keeps profiles: the distribution package, snap, flatpak, macOS.
FIREFOX_PROFILES = (
    ".mozilla/firefox",
    "snap/firefox/common/.mozilla/firefox",
    ".var/app/org.mozilla.firefox/.mozilla/firefox",
    "Library/Application Support/Firefox/Profiles",
)
CHROMIUM_DB = ".pki/nssdb"
CHROMIUM_SNAP_DB = "snap/chromium/current/.pki/nssdb"
SYSTEM_DB = "/etc/pki/nssdb"  # Fedora's system-wide NSS database

CERTUTIL_HINT = {
    "darwin": "brew install nss",
    "linux": "apt install libnss3-tools (Debian/Ubuntu), dnf install nss-tools (Fedora/RHEL), "
             "pacman -S nss (Arch), zypper install mozilla-nss-tools (SUSE)",
}


@dataclass(frozen=True)
class NssDb:
    path: Path
    kind: str = "sql"  # cert9.db; "dbm" for an old profile with cert8.db
    privileged: bool = False
    exists: bool = True

    @property
    def spec(self) -> str:
        return f"{self.kind}:{self.path}"


def find_dbs(host: Host) -> list[NssDb]:
    """Every NSS database browsers on this host read (plus ~/.pki/nssdb to create, on Linux)."""
    found = []
    if not host.is_mac:
        chromium = host.home / CHROMIUM_DB
        found.append(_db(chromium) or NssDb(chromium, exists=False))
        found.append(_db(host.home / CHROMIUM_SNAP_DB))
        found.append(_db(host.path(SYSTEM_DB), privileged=True))
    for rel in FIREFOX_PROFILES:
        base = host.home / rel
        if base.is_dir():
            found.extend(_db(profile) for profile in sorted(base.iterdir()) if profile.is_dir())
    return [db for db in found if db is not None]


def _db(path: Path, privileged: bool = False) -> NssDb | None:
    if (path / "cert9.db").exists():
        return NssDb(path, "sql", privileged)
    if (path / "cert8.db").exists():
        return NssDb(path, "dbm", privileged)
    return None


class NssStore(Store):
    name = "nss"

    def __init__(self, target, host, dbs: list[NssDb] | None = None):
        super().__init__(target, host)
        self.dbs = find_dbs(host) if dbs is None else dbs

    @property
    def title(self) -> str:
        return f"NSS databases of browsers ({len(self.dbs)})"

    def unavailable(self) -> str | None:
        if not self.dbs:
            return "no browser NSS database found (no Firefox profile)"
        if not self.host.has("certutil"):
            return f"certutil not found (install it: {CERTUTIL_HINT.get(self.host.platform, CERTUTIL_HINT['linux'])})"
        return None

    def installed(self, db: NssDb) -> bytes | None:
        """The DER of the certificate under our nickname in db, or None."""
        if not db.exists:
            return None
        proc = probe(["certutil", "-L", "-d", db.spec, "-n", self.target.label, "-a"])
        if proc.returncode != 0 or "BEGIN CERTIFICATE" not in proc.stdout:
            return None
        return pem_to_der(proc.stdout.encode())

    def check(self) -> bool:
        der = self.target.ca_der()
        return der is not None and all(self.installed(db) == der for db in self.dbs)

    def install(self) -> list[Command]:
        der = self.target.ca_der()
        commands: list[Command] = []
        for db in self.dbs:
            current = self.installed(db)
            if der is not None and current == der:
                continue
            if not db.exists:
                commands += [make_dir(db.path, db.privileged),
                             self._certutil(db, "-N", "--empty-password")]
            if current is not None:  # an older CA of this stack (rotated): replace it
                commands.append(self._certutil(db, "-D", "-n", self.target.label))
            commands.append(self._certutil(db, "-A", "-t", "C,,", "-n", self.target.label, "-i", str(self.target.ca)))
        return commands

    def uninstall(self) -> list[Command]:
        return [self._certutil(db, "-D", "-n", self.target.label) for db in self.dbs if self.installed(db) is not None]

    def _certutil(self, db: NssDb, *args: str) -> Command:
        return Command(("certutil", *args[:1], "-d", db.spec, *args[1:]), db.privileged)
