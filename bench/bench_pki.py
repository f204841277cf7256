"""Issuing the PKI (issue 3): 3, 100 and 1000 nodes with ECDSA P-256 and RSA-2048, keys per
second, the no-change rerun, and the ratio to one `openssl req -newkey` per node (the seeds'
way), measured in the same run.

A whole ensure_pki() is timed: CA, node and client certificates, client.pfx, SSH key, and an
fsync'd atomic write per file (the fsyncs are most of the ECDSA time, and vary with what
else uses the disk). RSA-2048 for 1000 nodes is extrapolated from the 100-node run (key
generation dominates and is linear in the node count) unless BENCH_PKI_FULL=1.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from blackfish import pki

from blackfish.model import config
from blackfish.pki import certs, keys
from blackfish.model.stack import Stack, plan
from blackfish.state import StateDir

KINDS = ("ecdsa-p256", "rsa-2048")
COUNTS = (3, 100, 1000)
NETWORK = ipaddress.ip_network("10.242.0.0/16")
# openssl's -newkey spelling of each kind.
OPENSSL_NEWKEY = {"ecdsa-p256": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
                  "rsa-2048": ["-newkey", "rsa:2048"]}


def bench_stack(kind: str, count: int) -> Stack:
    hosts = NETWORK.hosts()
    next(hosts)
    nodes = "".join(f"  - ip: {next(hosts)}\n" for _ in range(count))
    text = f"stack: bench\nprovider: docker\nadmin-network: {NETWORK}\npki:\n  key: {kind}\nnodes:\n{nodes}"
    return plan(config.parse(text).config)


def keys_issued(stack: Stack) -> int:
    return len(stack.nodes) + 3  # + CA, client, SSH


def issue(stack: Stack, base: Path) -> tuple[float, float]:
    """Seconds for the first ensure_pki() and for the rerun that changes nothing."""
    state = StateDir(stack.name, base)
    started = time.perf_counter()
    pki.ensure_pki(stack, state)
    first = time.perf_counter() - started
    started = time.perf_counter()
    assert pki.ensure_pki(stack, state) == []
    rerun = time.perf_counter() - started
    shutil.rmtree(state.path)
    return first, rerun


def openssl_argv(kind: str, ca: Path, out: Path) -> list[str]:
    """One `openssl req -newkey ... -x509 -CA`: a new key and a signed node certificate, one process."""
    return ["openssl", "req", "-x509", *OPENSSL_NEWKEY[kind], "-nodes", "-keyout", str(out / "key.pem"),
            "-out", str(out / "cert.pem"), "-subj", "/CN=bench-0001.node.dc1.bench", "-days", "825",
            "-CA", str(ca / "ca.pem"), "-CAkey", str(ca / "ca-key.pem"),
            "-addext", "subjectAltName=DNS:bench-0001.node.dc1.bench,DNS:bench-0001.bench,DNS:localhost,IP:10.242.0.2,IP:127.0.0.1",
            "-addext", "extendedKeyUsage=serverAuth,clientAuth"]


def per_node_against_openssl(kind: str, base: Path, rounds: int) -> tuple[float, float]:
    """Median seconds per node certificate (key, certificate, both files written): blackfish
    in-process and one openssl process, alternated round by round so both see the same noise."""
    stack = bench_stack(kind, 1)
    state = StateDir("cmp", base / kind)
    pki.ensure_pki(stack, state)
    ca_cert, ca_key = certs.load(state.read("ca.pem")), keys.from_pem(state.read("ca-key.pem"))
    profile = pki.node_profile(stack.nodes[0])
    argv = openssl_argv(kind, state.path, base)
    ours, theirs = [], []
    for i in range(rounds + 1):  # round 0 warms up
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        openssl = time.perf_counter() - started
        started = time.perf_counter()
        key = keys.generate(kind)
        state.write(f"nodes/n{i}/key.pem", keys.to_pem(key))
        state.write(f"nodes/n{i}/cert.pem", certs.issue(profile, key, ca_cert, ca_key).public_bytes(Encoding.PEM), mode=0o644)
        if i:
            theirs.append(openssl)
            ours.append(time.perf_counter() - started)
    return statistics.median(ours), statistics.median(theirs)


def keygen_seconds(kind: str, count: int) -> float:
    """Seconds per key for key generation alone (no certificate, no file)."""
    started = time.perf_counter()
    for _ in range(count):
        keys.generate(kind)
    return (time.perf_counter() - started) / count


def run() -> list[dict]:
    rows = []
    full = os.environ.get("BENCH_PKI_FULL") == "1"
    with tempfile.TemporaryDirectory(prefix="bench-pki-") as tmp:
        base = Path(tmp)
        for kind in KINDS:
            measured: dict[int, tuple[float, float]] = {}
            for count in COUNTS:
                size = count if full or kind.startswith("ecdsa") or count <= 100 else 100
                if size not in measured:
                    measured[size] = issue(bench_stack(kind, size), base)
                first, rerun = measured[size]
                done = keys_issued(bench_stack(kind, size))
                note = f"{done / first:.0f} keys/s"
                if size != count:
                    note += f"; extrapolated from the {size}-node run"
                rows.append({"benchmark": "pki", "case": f"issue {count} nodes, {kind}",
                             "value": first * keys_issued(bench_stack(kind, count)) / done, "unit": "s", "note": note})
                if size == count == max(COUNTS):
                    rows.append({"benchmark": "pki", "case": f"rerun {count} nodes, {kind} (no change)", "value": rerun,
                                 "unit": "s", "note": "reads and checks every certificate, writes nothing"})
            ours, openssl = per_node_against_openssl(kind, base, rounds=20 if kind.startswith("ecdsa") else 8)
            rows.append({"benchmark": "pki", "case": f"one node certificate, {kind}", "value": ours * 1000, "unit": "ms",
                         "note": f"openssl req -newkey: {openssl * 1000:.1f} ms, {openssl / ours:.1f}x slower (interleaved)"})
            keygen = keygen_seconds(kind, 200 if kind.startswith("ecdsa") else 20)
            rows.append({"benchmark": "pki", "case": f"key generation alone, {kind}", "value": 1 / keygen, "unit": "keys/s",
                         "note": f"{keygen * 1000:.2f} ms per key; one openssl req -newkey takes {openssl / keygen:.0f}x that"})
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
