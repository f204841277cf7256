"""The per-stack SSH key pair (ssh/id_ed25519) that nodes accept for login.

It replaces Vagrant's shared insecure key. Kept across reruns and certificate rotations:
its public half is baked into every node's user-data, so a new key would lock the user
out of running nodes.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from blackfish.state import SSH_KEY as PRIVATE
from blackfish.state import SSH_PUBLIC_KEY as PUBLIC
from blackfish.state import StateDir


def ensure_ssh_key(state: StateDir) -> list[str]:
    """Create the key pair when absent or unreadable; return the relative paths written."""
    key = _load(state.read(PRIVATE))
    written = []
    if key is None:
        key = ed25519.Ed25519PrivateKey.generate()
        private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
        state.write(PRIVATE, private, mode=0o600)
        written.append(PRIVATE)
    if state.write(PUBLIC, public_line(key, state.stack), mode=0o644):
        written.append(PUBLIC)
    return written


def public_line(key: ed25519.Ed25519PrivateKey, stack: str) -> str:
    """The authorized_keys line: `ssh-ed25519 AAAA... blackfish@<stack>`."""
    openssh = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return f"{openssh.decode()} blackfish@{stack}\n"


def _load(data: bytes | None) -> ed25519.Ed25519PrivateKey | None:
    if data is None:
        return None
    try:
        key = serialization.load_ssh_private_key(data, password=None)
    except (ValueError, TypeError):
        return None
    return key if isinstance(key, ed25519.Ed25519PrivateKey) else None
