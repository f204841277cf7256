"""The floor of a render (issue 17): the work no renderer of N nodes can skip, done as plainly
as possible with `cryptography` in one process. Per node: one ECDSA P-256 key, one
certificate for it signed by a CA (the extensions a node certificate carries), and one file
of USER_DATA_BYTES (about what a node's user-data weighs, the key and certificate in it)
written and fsync'd.

    python bench/floor_render.py 1000      # seconds for 1000 nodes, the layout floor, other layouts

`layout_floor` is the same work written the way a stack's state directory lays it out: per
node a directory and three files (key, certificate, user-data), each written to a temp
file, fsync'd and renamed into place, one after another. It is what creating the files of
a render costs here, without templates or blackfish's own code. `files_only` writes the
same bytes as N files per node, in a directory per node or not, without an fsync each (one
sync at the end, as a batch does): what other layouts would cost (docs/performance.md).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import sys
import tempfile
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

USER_DATA_BYTES = 24 * 1024


def _ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "floor CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def _leaf(i: int, ca_cert: x509.Certificate, ca_key) -> tuple[bytes, bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = f"floor-{i:05d}"
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name}.node.dc1.floor")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=825))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName(f"{name}.node.dc1.floor"), x509.DNSName(f"{name}.floor"), x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address(0x0AF20000 + i + 1)), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return key_pem, cert_pem, cert_pem + key_pem + b"#" * (USER_DATA_BYTES - len(cert_pem) - len(key_pem))


def floor(count: int, directory: Path) -> float:
    """Seconds to make count nodes' key, certificate and fsync'd file in directory."""
    started = time.perf_counter()
    ca_cert, ca_key = _ca()
    for i in range(count):
        with open(directory / f"floor-{i:05d}", "wb") as f:
            f.write(_leaf(i, ca_cert, ca_key)[2])
            f.flush()
            os.fsync(f.fileno())
    return time.perf_counter() - started


def layout_floor(count: int, directory: Path) -> float:
    """Seconds for the same nodes in a state directory's layout (see the module's doc)."""
    started = time.perf_counter()
    ca_cert, ca_key = _ca()
    for i in range(count):
        node = directory / f"floor-{i:05d}"
        node.mkdir(mode=0o700)
        for name, data in zip(("key.pem", "cert.pem", "user-data"), _leaf(i, ca_cert, ca_key)):
            with open(node / f".{name}.tmp", "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(node / f".{name}.tmp", node / name)
    return time.perf_counter() - started


def files_only(count: int, directory: Path, files: int, per_node_dir: bool) -> float:
    """Seconds for the nodes' keys and certificates written as `files` files per node."""
    started = time.perf_counter()
    ca_cert, ca_key = _ca()
    for i in range(count):
        data = _leaf(i, ca_cert, ca_key)
        node = directory / f"floor-{i:05d}" if per_node_dir else directory
        if per_node_dir:
            node.mkdir(mode=0o700)
        for j in range(files):
            target = node / (f"f{j}" if per_node_dir else f"floor-{i:05d}.f{j}")
            with open(f"{target}.tmp", "wb") as f:
                f.write(data[2] if j == 0 else data[j % 2])
            os.replace(f"{target}.tmp", target)
    os.sync()
    return time.perf_counter() - started


if __name__ == "__main__":
    nodes = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    runs = {"floor": lambda d: floor(nodes, d), "layout floor": lambda d: layout_floor(nodes, d)}
    for files, per_node_dir in ((4, True), (2, True), (3, False), (2, False), (1, False)):
        where = "in a directory per node" if per_node_dir else "side by side"
        runs[f"{files} files {where}"] = lambda d, files=files, per_node_dir=per_node_dir: files_only(nodes, d, files, per_node_dir)
    for name, measure in runs.items():
        with tempfile.TemporaryDirectory(prefix="bench-floor-") as directory:
            print(f"{name}: {measure(Path(directory)):.3f} s")
