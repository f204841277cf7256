"""Private keys of the PKI: generating the kind nodes.yml asks for, PEM in and out, matching."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

_CURVES = {"ecdsa-p256": ec.SECP256R1, "ecdsa-p384": ec.SECP384R1}
_RSA_BITS = {"rsa-2048": 2048, "rsa-4096": 4096}
KINDS = tuple(_CURVES) + tuple(_RSA_BITS)


def generate(kind: str) -> PrivateKey:
    if kind in _CURVES:
        return ec.generate_private_key(_CURVES[kind]())
    if kind in _RSA_BITS:
        return rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS[kind])
    raise ValueError(f"unknown key kind {kind!r}; known: {', '.join(KINDS)}")


def kind_of(key) -> str | None:
    """The nodes.yml name of a private or public key's kind (None for any other key)."""
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return next((k for k, curve in _CURVES.items() if isinstance(key.curve, curve)), None)
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return next((k for k, bits in _RSA_BITS.items() if key.key_size == bits), None)
    return None


def signature_hash(key: PrivateKey) -> hashes.HashAlgorithm:
    # Match the hash to the key's strength (P-384 signs with SHA-384, as CA/B rules expect).
    return hashes.SHA384() if kind_of(key) == "ecdsa-p384" else hashes.SHA256()


def to_pem(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM: what dockerd, consul, the registry and haproxy all read."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def from_pem(data: bytes | None) -> PrivateKey | None:
    """The key in data, or None when absent, unreadable or not a kind the PKI issues."""
    if data is None:
        return None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        return None
    return key if kind_of(key) else None


def public_der(key) -> bytes:
    public = key.public_key() if hasattr(key, "public_key") else key
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def same_public(a, b) -> bool:
    return public_der(a) == public_der(b)
