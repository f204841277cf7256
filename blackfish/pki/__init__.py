"""The stack's PKI in its state directory: CA, node and client certificates, client.pfx, SSH key.

    ca.pem ca-key.pem              the stack's name-constrained CA (its key never leaves the host)
    cert.pem key.pem               the user's client certificate (so the state dir is a DOCKER_CERT_PATH)
    client.pfx client.pfx.password the same pair as PKCS#12 for browsers, and its generated password
    nodes/<name>/cert.pem key.pem  one serverAuth+clientAuth certificate per node
    ssh/id_ed25519(.pub)           the per-stack SSH key
    pki-checked.json               digests of the leaves found current (so a rerun need not re-verify)

ensure_pki() is idempotent: it keeps every file that is still right (same bytes, same
mtime) and re-issues only what changed or expires within 30 days. The CA follows the
stack's settings: a new key kind, admin network or name-constraints setting replaces it
(and so every certificate under it). ensure_pki() takes the state directory's lock
itself; StateDir.lock() is re-entrant, so callers may already hold it.
"""

from __future__ import annotations

import json
import shutil
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from blackfish import fingerprint
from blackfish.pki import sshkey
from blackfish.errors import UsageError
from blackfish.pki import certs, keys, pkcs12
from blackfish.pki.certs import Profile
from blackfish.model.stack import Node, Stack
from blackfish.state import StateDir

CA_CERT, CA_KEY = "ca.pem", "ca-key.pem"
CLIENT_CERT, CLIENT_KEY = "cert.pem", "key.pem"
CLIENT_PFX, CLIENT_PFX_PASSWORD = "client.pfx", "client.pfx.password"
NODES = "nodes"
CLIENT_NAME = "blackfish-admin"
CERT_MODE, KEY_MODE = 0o644, 0o600
CHECKED = "pki-checked.json"  # see Checked


def node_cert(name: str) -> str:
    return f"{NODES}/{name}/cert.pem"


def node_key(name: str) -> str:
    return f"{NODES}/{name}/key.pem"


def node_profile(node: Node) -> Profile:
    """CN and first SAN the node's FQDN, then its other names and addresses (stack.Node)."""
    return Profile(common_name=node.fqdn, dns_names=tuple(node.dns_names), ip_addresses=tuple(node.ip_addresses))


CLIENT_PROFILE = Profile(common_name=CLIENT_NAME, usages=certs.CLIENT_ONLY)


def ensure_pki(stack: Stack, state: StateDir) -> list[str]:
    """Create or refresh the whole PKI; return the relative paths (re)written (empty on a rerun)."""
    return _ensure(stack, state, renew=False, renew_ca=False)


def rotate(stack: Stack, state: StateDir, ca: bool = False) -> list[str]:
    """New keys and certificates for every node and the client; with ca, a new CA first.

    The SSH key and the client.pfx password stay (see sshkey)."""
    return _ensure(stack, state, renew=True, renew_ca=ca)


def _ensure(stack: Stack, state: StateDir, renew: bool, renew_ca: bool) -> list[str]:
    with state.lock(), state.batch():
        written: list[str] = []
        ca_cert, ca_key = _ensure_ca(stack, state, renew_ca, written)
        checked = Checked(_load_json(state.read(CHECKED)), _pem(ca_cert), renew)
        for node in stack.nodes:
            _ensure_leaf(state, node_cert(node.name), node_key(node.name), node_profile(node), stack.pki_key,
                         ca_cert, ca_key, checked, written)
        client_pem, client_key_pem = _ensure_leaf(state, CLIENT_CERT, CLIENT_KEY, CLIENT_PROFILE, stack.pki_key,
                                                  ca_cert, ca_key, checked, written)
        _ensure_pfx(stack, state, certs.load(client_pem), keys.from_pem(client_key_pem), ca_cert, written)
        written += sshkey.ensure_ssh_key(state)
        _remove_departed_nodes(stack, state)
        state.write(CHECKED, json.dumps(checked.now, sort_keys=True) + "\n", mode=KEY_MODE)
        return written


def _ensure_ca(stack: Stack, state: StateDir, renew: bool, written: list[str]):
    permitted = certs.permitted_names(stack.domain, stack.admin_network) if stack.name_constraints else None
    cert, key = certs.load(state.read(CA_CERT)), keys.from_pem(state.read(CA_KEY))
    if not renew and cert is not None and key is not None and certs.ca_is_current(cert, key, stack.pki_key, permitted):
        return cert, key
    key = keys.generate(stack.pki_key)
    cert = certs.make_ca(stack.name, key, permitted)
    # Key first: interrupted between the two writes, the next run sees a mismatch and starts over.
    _write(state, CA_KEY, keys.to_pem(key), KEY_MODE, written)
    _write(state, CA_CERT, _pem(cert), CERT_MODE, written)
    return cert, key


class Checked:
    """Leaves an earlier run found current, by a digest of all the verdict depends on (cert,
    key, CA, profile, key kind, blackfish's code), with the time the certificate is due for renewal.

    A rerun that finds the same digest before that time keeps the pair without parsing the
    key or verifying the signature: those checks were most of a rerun's time."""

    def __init__(self, before: dict, ca_pem: bytes, renew: bool):
        self.before, self.ca_pem, self.renew = before, ca_pem, renew
        self.now: dict[str, list] = {}

    def digest(self, cert_pem: bytes | None, key_pem: bytes | None, profile: Profile, kind: str) -> str:
        # With blackfish's code: a new version may judge certificates by other rules.
        return fingerprint.of_parts(fingerprint.of_code(), cert_pem or b"", key_pem or b"", self.ca_pem, profile, kind)

    def still_current(self, rel: str, digest: str) -> bool:
        seen = self.before.get(rel)
        if self.renew or not isinstance(seen, list) or len(seen) != 2 or seen[0] != digest:
            return False
        if not isinstance(seen[1], (int, float)) or time.time() >= seen[1]:
            return False
        self.now[rel] = seen
        return True

    def found_current(self, rel: str, digest: str, cert: x509.Certificate) -> None:
        self.now[rel] = [digest, (cert.not_valid_after_utc - certs.RENEW_BEFORE).timestamp()]


def _ensure_leaf(state: StateDir, cert_rel: str, key_rel: str, profile: Profile, kind: str,
                 ca_cert: x509.Certificate, ca_key: keys.PrivateKey, checked: Checked,
                 written: list[str]) -> tuple[bytes, bytes]:
    """The leaf's certificate and key PEM, issued anew unless the ones on disk are current."""
    cert_pem, key_pem = state.read(cert_rel), state.read(key_rel)
    digest = checked.digest(cert_pem, key_pem, profile, kind)
    if checked.still_current(cert_rel, digest):
        return cert_pem, key_pem
    cert, key = certs.load(cert_pem), keys.from_pem(key_pem)
    if checked.renew or cert is None or key is None or not certs.leaf_is_current(cert, key, profile, ca_cert, kind):
        key = keys.generate(kind)
        cert = certs.issue(profile, key, ca_cert, ca_key)
        cert_pem, key_pem = _pem(cert), keys.to_pem(key)
        _write(state, key_rel, key_pem, KEY_MODE, written)
        _write(state, cert_rel, cert_pem, CERT_MODE, written)
    checked.found_current(cert_rel, checked.digest(cert_pem, key_pem, profile, kind), cert)
    return cert_pem, key_pem


def _ensure_pfx(stack: Stack, state: StateDir, cert, key, ca_cert, written: list[str]) -> None:
    stored = state.read(CLIENT_PFX_PASSWORD)
    password = stored.decode().strip() if stored else ""
    if not password:
        password = pkcs12.new_password()
        _write(state, CLIENT_PFX_PASSWORD, password + "\n", KEY_MODE, written)
    # PKCS#12 output is salted: rebuild it only when it no longer holds this pair, so a rerun keeps its bytes.
    if not pkcs12.holds(state.read(CLIENT_PFX), password, cert, key, ca_cert):
        data = pkcs12.bundle(f"{CLIENT_NAME} ({stack.name})", cert, key, ca_cert, password)
        _write(state, CLIENT_PFX, data, KEY_MODE, written)


def _remove_departed_nodes(stack: Stack, state: StateDir) -> None:
    """Certificates of nodes no longer in nodes.yml go, so `certs show` lists only the stack."""
    base = state.file(NODES)
    if not base.is_dir():
        return
    current = {n.name for n in stack.nodes}
    for entry in base.iterdir():
        if entry.is_dir() and entry.name not in current:
            shutil.rmtree(entry)


def _write(state: StateDir, rel: str, data: bytes | str, mode: int, written: list[str]) -> None:
    if state.write(rel, data, mode=mode):
        written.append(rel)


def _load_json(data: bytes | None) -> dict:
    try:
        loaded = json.loads(data) if data else {}
    except ValueError:  # damaged: check everything again
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def describe(state: StateDir) -> list[dict]:
    """Every certificate in the state directory: file, subject, SANs, not-after, SHA-256 fingerprint."""
    if state.read(CA_CERT) is None:
        raise UsageError(f"stack {state.stack!r} has no certificates in {state.path} (run `blackfish up` first)")
    rels = [CA_CERT, CLIENT_CERT]
    nodes = state.file(NODES)
    if nodes.is_dir():
        rels += sorted(node_cert(d.name) for d in nodes.iterdir() if (d / "cert.pem").is_file())
    return [_describe_one(rel, cert) for rel in rels if (cert := certs.load(state.read(rel))) is not None]


def _describe_one(rel: str, cert: x509.Certificate) -> dict:
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n.value) for n in sans]
    except x509.ExtensionNotFound:
        names = []
    fingerprint = cert.fingerprint(hashes.SHA256()).hex().upper()
    return {
        "file": rel,
        "subject": cert.subject.rfc4514_string(),
        "sans": names,
        "not_after": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        # Colon-separated like `openssl x509 -fingerprint -sha256`, to compare by eye.
        "sha256": ":".join(fingerprint[i:i + 2] for i in range(0, len(fingerprint), 2)),
    }

