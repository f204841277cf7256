"""X.509 certificates of the PKI: the stack's name-constrained CA, leaf certificates, and
checking that an existing certificate is still what the stack asks for (so reruns keep it)."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from blackfish.pki import keys

CA_VALIDITY = datetime.timedelta(days=3650)
# 825 days is the longest validity Apple platforms (and so Safari and Chrome on macOS) accept
# for a TLS server certificate issued after 2019-07-01: https://support.apple.com/en-us/103769
LEAF_VALIDITY = datetime.timedelta(days=825)
# A certificate this close to its end is re-issued by the next run.
RENEW_BEFORE = datetime.timedelta(days=30)
# Node clocks (a VM resumed from a snapshot, a freshly booted box) may lag the host's.
BACKDATE = datetime.timedelta(hours=1)

SERVER_AND_CLIENT = (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH)
CLIENT_ONLY = (ExtendedKeyUsageOID.CLIENT_AUTH,)


@dataclass(frozen=True)
class Profile:
    """What a leaf certificate must say: its CN, SANs in order, and extended key usages."""

    common_name: str
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    usages: tuple[x509.ObjectIdentifier, ...] = SERVER_AND_CLIENT
    # The role of a client certificate (operator, manager): what the registry front reads.
    unit: str | None = None


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def permitted_names(domain: str, admin_network: str) -> list[x509.GeneralName]:
    """The CA may only vouch for the stack's domain (and every name under it), localhost,
    the admin network and loopback: installing it cannot make a browser trust other sites."""
    return [
        x509.DNSName(domain),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_network(admin_network)),
        x509.IPAddress(ipaddress.ip_network("127.0.0.0/8")),
        x509.IPAddress(ipaddress.ip_network("::1/128")),
    ]


def ca_common_name(stack_name: str, kind: str = "") -> str:
    """`blackfish <stack> CA` (the node CA) or `blackfish <stack> clients CA` (kind="clients")."""
    return f"blackfish {stack_name} {kind + ' ' if kind else ''}CA"


def make_ca(stack_name: str, key: keys.PrivateKey, permitted: list[x509.GeneralName] | None, kind: str = "") -> x509.Certificate:
    start = now()
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "blackfish"),
        # The date tells a rotated CA from its predecessor in trust stores and browsers.
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"stack {stack_name} created {start:%Y-%m-%d %H:%M:%S}Z"),
        x509.NameAttribute(NameOID.COMMON_NAME, ca_common_name(stack_name, kind)),
    ])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - BACKDATE)
        .not_valid_after(start + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
    )
    if permitted is not None:
        builder = builder.add_extension(x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None), critical=True)
    return builder.sign(key, keys.signature_hash(key))


def issue(profile: Profile, key: keys.PrivateKey, ca_cert: x509.Certificate, ca_key: keys.PrivateKey) -> x509.Certificate:
    start = now()
    not_after = min(start + LEAF_VALIDITY, ca_cert.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_of(profile))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        # keyEncipherment only means something for RSA keys (TLS 1.2 RSA key exchange).
        .add_extension(_key_usage(digital_signature=True, key_encipherment=isinstance(key, rsa.RSAPrivateKey)), critical=True)
        .add_extension(x509.ExtendedKeyUsage(list(profile.usages)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
            ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value), critical=False)
    )
    sans = sans_of(profile)
    if sans:
        # Non-critical: the subject (CN) is not empty (RFC 5280 4.2.1.6).
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, keys.signature_hash(ca_key))


def subject_of(profile: Profile) -> x509.Name:
    unit = [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, profile.unit)] if profile.unit else []
    return x509.Name([*unit, x509.NameAttribute(NameOID.COMMON_NAME, profile.common_name)])


def sans_of(profile: Profile) -> list[x509.GeneralName]:
    return [x509.DNSName(n) for n in profile.dns_names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in profile.ip_addresses]


def leaf_is_current(cert: x509.Certificate, key: keys.PrivateKey, profile: Profile, ca_cert: x509.Certificate, kind: str) -> bool:
    """True when cert (with key) is what the profile asks for, by this CA, and not about to expire."""
    sans = _extension(cert, x509.SubjectAlternativeName)
    return (
        keys.same_public(cert.public_key(), key)
        and keys.kind_of(key) == kind
        and _issued_by(cert, ca_cert)
        and (list(sans) if sans is not None else []) == sans_of(profile)
        and _extension(cert, x509.ExtendedKeyUsage) == x509.ExtendedKeyUsage(list(profile.usages))
        and cert.subject == subject_of(profile)
        and _lasts(cert)
    )


def ca_problem(cert: x509.Certificate, key: keys.PrivateKey, kind: str, permitted: list[x509.GeneralName] | None) -> str | None:
    """How the CA differs from its key and from what nodes.yml asks for (None when it does not)."""
    have = permitted_of(cert)
    basic = _extension(cert, x509.BasicConstraints)
    if not keys.same_public(cert.public_key(), key):
        return "its key file does not hold its key (an interrupted `certs rotate --ca`?)"
    if basic is None or not basic.ca:
        return "not a CA certificate"
    if keys.kind_of(key) != kind:
        return f"the CA's key is {keys.kind_of(key)}, nodes.yml asks for {kind}"
    if (None if have is None else set(have)) != (None if permitted is None else set(permitted)):
        return "its name constraints differ from what nodes.yml asks for (stack, admin-network or pki.name-constraints changed)"
    if not _lasts(cert):
        return f"it expires on {cert.not_valid_after_utc:%Y-%m-%d}"
    return None


def permitted_of(cert: x509.Certificate) -> list[x509.GeneralName] | None:
    """The CA's permitted subtrees; None when it has no name constraints."""
    constraints = _extension(cert, x509.NameConstraints)
    return None if constraints is None else list(constraints.permitted_subtrees or ())


def load(data: bytes | None) -> x509.Certificate | None:
    if data is None:
        return None
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        return None


def _issued_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _lasts(cert: x509.Certificate) -> bool:
    return cert.not_valid_after_utc - now() > RENEW_BEFORE


def _extension(cert: x509.Certificate, kind):
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _key_usage(**usages: bool) -> x509.KeyUsage:
    # Every flag spelled out, as KeyUsage requires; only the ones passed are set.
    flags = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{f: usages.get(f, False) for f in flags})
