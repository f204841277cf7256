"""The stack's PKI in its state directory: CA, node and client certificates, client.pfx, SSH key.

    ca.pem ca-key.pem              the stack's name-constrained (node) CA: what clients and trust
                                   stores verify servers with (its key never leaves the host)
    clients-ca.pem clients-ca-key.pem  the clients CA: the one engines trust, and the registry
                                   lets push (never installed in a trust store)
    cert.pem key.pem               the user's (operator/CI) client certificate, from the clients CA
                                   (so the state dir is a DOCKER_CERT_PATH)
    client.pfx client.pfx.password the same pair as PKCS#12 for browsers, and its generated password
    nodes/<name>.cert.pem .key.pem one serverAuth+clientAuth certificate per node, from the node CA:
                                   consul, registry pulls; engines do not accept it
    nodes/<name>.client-cert.pem .client-key.pem  managers only: their engine-client certificate,
                                   from the clients CA (swarm bootstrap, pushes)
    ssh/id_ed25519(.pub)           the per-stack SSH key
    pki-checked.json               digests of the leaves found current (so a rerun need not re-verify)

docs/security.md says what each credential can reach.

ensure_pki() is idempotent: it keeps every file that is still right (same bytes, same
mtime) and re-issues only what changed or expires within 30 days. The CA is never replaced
implicitly: a damaged ca.pem, or one that no longer matches nodes.yml (key kind, admin
network, name constraints), is an error until `certs rotate --ca` replaces it (and so every
certificate under it). ensure_pki() takes the state directory's lock
itself; StateDir.lock() is re-entrant, so callers may already hold it.
"""

from __future__ import annotations

import json
import os
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
from blackfish.state import (CA_CERT, CA_KEY, CLIENT_CERT, CLIENT_KEY, CLIENT_PFX, CLIENT_PFX_PASSWORD, CLIENTS_CA_CERT,
                             CLIENTS_CA_KEY, NODES, PKI_CHECKED, StateDir, manager_client_cert, manager_client_key, node_cert, node_key,
                             node_of)

__all__ = ["CA_CERT", "CA_KEY", "CLIENTS_CA_CERT", "CLIENTS_CA_KEY", "CLIENT_CERT", "CLIENT_KEY", "CLIENT_PFX",
           "CLIENT_PFX_PASSWORD", "NODES", "node_cert", "node_key", "manager_client_cert", "manager_client_key",
           "ensure_pki", "rotate", "describe"]

CLIENT_NAME = "blackfish-admin"
CERT_MODE, KEY_MODE = 0o644, 0o600
CHECKED = PKI_CHECKED  # see Checked


def manager_profile(node: Node) -> Profile:
    return Profile(common_name=node.fqdn, usages=certs.CLIENT_ONLY, unit=MANAGER_UNIT)


def node_profile(node: Node) -> Profile:
    """CN and first SAN the node's FQDN, then its other names and addresses (stack.Node)."""
    return Profile(common_name=node.fqdn, dns_names=tuple(node.dns_names), ip_addresses=tuple(node.ip_addresses))


# The OU names the role; the registry front lets certificates of the clients CA push.
OPERATOR_UNIT, MANAGER_UNIT = "operator", "manager"
CLIENT_PROFILE = Profile(common_name=CLIENT_NAME, usages=certs.CLIENT_ONLY, unit=OPERATOR_UNIT)


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
        clients_cert, clients_key = _ensure_ca(stack, state, renew_ca, written, CLIENTS_CA_CERT, CLIENTS_CA_KEY, "clients")
        # Both CAs in the digest: a leaf of either is judged again when either CA changes.
        checked = Checked(_load_json(state.read(CHECKED)), _pem(ca_cert) + _pem(clients_cert), renew)
        for node in stack.all_nodes:
            _ensure_leaf(state, node_cert(node.name), node_key(node.name), node_profile(node), stack.pki_key,
                         ca_cert, ca_key, checked, written)
            if node.is_manager:
                _ensure_leaf(state, manager_client_cert(node.name), manager_client_key(node.name), manager_profile(node),
                             stack.pki_key, clients_cert, clients_key, checked, written)
            else:  # a manager demoted to a worker keeps no engine-client certificate
                state.remove(manager_client_cert(node.name))
                state.remove(manager_client_key(node.name))
        client_pem, client_key_pem = _ensure_leaf(state, CLIENT_CERT, CLIENT_KEY, CLIENT_PROFILE, stack.pki_key,
                                                  clients_cert, clients_key, checked, written)
        _ensure_pfx(stack, state, certs.load(client_pem), keys.from_pem(client_key_pem), ca_cert, written)
        written += sshkey.ensure_ssh_key(state)
        _remove_departed_nodes(stack, state)
        state.write(CHECKED, json.dumps(checked.now, sort_keys=True) + "\n", mode=KEY_MODE)
        return written


def _ensure_ca(stack: Stack, state: StateDir, renew: bool, written: list[str],
               cert_rel: str = CA_CERT, key_rel: str = CA_KEY, kind: str = ""):
    """The stack's CA: made on the first run, replaced only by `certs rotate --ca` (renew).

    A CA is what every node and every trust store holds: a damaged or mismatched one is an
    error naming the file, never a silent new CA (issue 16, finding 3)."""
    permitted = certs.permitted_names(stack.domain, stack.admin_network) if stack.name_constraints else None
    cert_data, key_data = state.read(cert_rel), state.read(key_rel)
    if not renew and (cert_data is not None or key_data is not None):
        return _existing_ca(stack, state, (cert_rel, cert_data), (key_rel, key_data), permitted)
    key = keys.generate(stack.pki_key)
    cert = certs.make_ca(stack.name, key, permitted, kind)
    # Key first: interrupted between the two writes, the next run finds a key that is not the
    # CA's and says to run `certs rotate --ca` again.
    _write(state, key_rel, keys.to_pem(key), KEY_MODE, written)
    _write(state, cert_rel, _pem(cert), CERT_MODE, written)
    return cert, key


def _existing_ca(stack: Stack, state: StateDir, cert_file: tuple, key_file: tuple, permitted):
    rotate = f"restore it from a backup, or replace the CA with `blackfish certs rotate --ca {stack.name}`"
    cert, key = certs.load(cert_file[1]), keys.from_pem(key_file[1])
    for (rel, data), parsed, what in ((cert_file, cert, "certificate"), (key_file, key, "key")):
        if data is None:
            raise UsageError(f"{state.file(rel)}: missing while its pair is there; {rotate}")
        if parsed is None:
            raise UsageError(f"{state.file(rel)}: damaged (not a readable PEM {what}); {rotate}")
    if problem := certs.ca_problem(cert, key, stack.pki_key, permitted):
        raise UsageError(f"{state.file(cert_file[0])}: {problem}; replace the CA with `blackfish certs rotate --ca {stack.name}` "
                         "(then boot the nodes with their new user-data and run `certs install` again)")
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
    """Files of nodes no longer in nodes.yml go, so `certs show` lists only the stack."""
    base = state.file(NODES)
    state.refuse_links(base)
    if not base.is_dir():
        return
    current = {n.name for n in stack.all_nodes}
    for entry in os.scandir(base):
        if entry.name.startswith(".") or node_of(entry.name) in current:  # a temp file: the batch's, or tidy's
            continue
        if entry.is_dir(follow_symlinks=False):  # an earlier version's, left with something else in it
            shutil.rmtree(entry.path)
        else:  # a file, or a link (the link only, never what it points to)
            state.remove(f"{NODES}/{entry.name}")


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
    rels = [CA_CERT, CLIENTS_CA_CERT, CLIENT_CERT]
    nodes = state.file(NODES)
    if nodes.is_dir():
        rels += sorted(f"{NODES}/{e.name}" for e in os.scandir(nodes)
                       if e.name.endswith("cert.pem") and e.is_file(follow_symlinks=False))
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

