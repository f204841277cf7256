"""client.pfx: the user's client certificate and key as PKCS#12, for browsers."""

from __future__ import annotations

import secrets

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import PrivateFormat, pkcs12

from blackfish.pki import keys

# PBES2 with AES-256 and a SHA-256 MAC (OpenSSL 3's default) instead of the legacy
# RC2/3DES: Chrome, Firefox, Windows 10+ and macOS 14+ import it; OpenSSL 3 opens it
# without -legacy.
# The password is 192 random bits, so key stretching adds no strength; modest rounds keep
# the rerun check (which opens the file) fast.
_KDF_ROUNDS = 10_000


def new_password() -> str:
    return secrets.token_urlsafe(24)


def bundle(name: str, cert: x509.Certificate, key: keys.PrivateKey, ca_cert: x509.Certificate, password: str) -> bytes:
    encryption = (
        PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(_KDF_ROUNDS)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(password.encode())
    )
    return pkcs12.serialize_key_and_certificates(name.encode(), key, cert, [ca_cert], encryption)


def holds(data: bytes | None, password: str, cert: x509.Certificate, key: keys.PrivateKey, ca_cert: x509.Certificate) -> bool:
    """True when data opens with password and carries exactly this cert, key and CA."""
    if data is None:
        return False
    try:
        loaded = pkcs12.load_pkcs12(data, password.encode())
    except (ValueError, TypeError):
        return False
    return (
        loaded.cert is not None and loaded.cert.certificate == cert
        and loaded.key is not None and keys.same_public(loaded.key, key)
        and [c.certificate for c in loaded.additional_certs] == [ca_cert]
    )
