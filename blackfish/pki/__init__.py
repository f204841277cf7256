"""The stack's PKI in its state directory: CA, node and client certificates, client.pfx, SSH key.

    ca.pem ca-key.pem              the stack's name-constrained CA (its key never leaves the host)
    cert.pem key.pem               the user's client certificate (so the state dir is a DOCKER_CERT_PATH)
    client.pfx client.pfx.password the same pair as PKCS#12 for browsers, and its generated password
    nodes/<name>/cert.pem key.pem  one serverAuth+clientAuth certificate per node
    ssh/id_ed25519(.pub)           the per-stack SSH key

ensure_pki() is idempotent: it keeps every file that is still right (same bytes, same
mtime) and re-issues only what changed or expires within 30 days. The CA follows the
stack's settings: a new key kind, admin network or name-constraints setting replaces it
(and so every certificate under it). ensure_pki() takes the state directory's lock
itself; StateDir.lock() is re-entrant, so callers may already hold it.
"""

from __future__ import annotations

import shutil

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from blackfish.pki import sshkey
from blackfish.errors import UsageError
from blackfish.pki import certs, keys, pkcs12
from blackfish.pki.certs import Profile
from blackfish.model.stack import Node, Stack
from blackfish.state import (CA_CERT, CA_KEY, CLIENT_CERT, CLIENT_KEY, CLIENT_PFX, CLIENT_PFX_PASSWORD, NODES,
                             StateDir, node_cert, node_key)

__all__ = ["CA_CERT", "CA_KEY", "CLIENT_CERT", "CLIENT_KEY", "CLIENT_PFX", "CLIENT_PFX_PASSWORD", "NODES",
           "node_cert", "node_key", "ensure_pki", "rotate", "describe"]

CLIENT_NAME = "blackfish-admin"
CERT_MODE, KEY_MODE = 0o644, 0o600


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
    with state.lock():
        written: list[str] = []
        ca_cert, ca_key = _ensure_ca(stack, state, renew_ca, written)
        for node in stack.all_nodes:
            _ensure_leaf(state, node_cert(node.name), node_key(node.name), node_profile(node), stack.pki_key,
                         ca_cert, ca_key, renew, written)
        client_cert, client_key = _ensure_leaf(state, CLIENT_CERT, CLIENT_KEY, CLIENT_PROFILE, stack.pki_key,
                                               ca_cert, ca_key, renew, written)
        _ensure_pfx(stack, state, client_cert, client_key, ca_cert, written)
        written += sshkey.ensure_ssh_key(state)
        _remove_departed_nodes(stack, state)
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


def _ensure_leaf(state: StateDir, cert_rel: str, key_rel: str, profile: Profile, kind: str,
                 ca_cert: x509.Certificate, ca_key: keys.PrivateKey, renew: bool, written: list[str]):
    cert, key = certs.load(state.read(cert_rel)), keys.from_pem(state.read(key_rel))
    if not renew and cert is not None and key is not None and certs.leaf_is_current(cert, key, profile, ca_cert, kind):
        return cert, key
    key = keys.generate(kind)
    cert = certs.issue(profile, key, ca_cert, ca_key)
    _write(state, key_rel, keys.to_pem(key), KEY_MODE, written)
    _write(state, cert_rel, _pem(cert), CERT_MODE, written)
    return cert, key


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
    current = {n.name for n in stack.all_nodes}
    for entry in base.iterdir():
        if entry.is_dir() and entry.name not in current:
            shutil.rmtree(entry)


def _write(state: StateDir, rel: str, data: bytes | str, mode: int, written: list[str]) -> None:
    if state.write(rel, data, mode=mode):
        written.append(rel)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def describe(state: StateDir) -> list[dict]:
    """Every certificate in the state directory: file, subject, SANs, not-after, SHA-256 fingerprint."""
    if state.read(CA_CERT) is None:
        raise UsageError(f"stack {state.stack!r} has no certificates in {state.path} (run `blackfish up` first)")
    rels = [CA_CERT, CLIENT_CERT]
    nodes = state.file(NODES)
    if nodes.is_dir():
        rels += sorted(node_cert(d.name) for d in nodes.iterdir() if (d / CLIENT_CERT).is_file())
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

