"""`blackfish load STACK IMAGE...`: copy images from this machine's docker engine into every node.

Like `kind load docker-image`: `docker save` on the host engine, `docker load` on each node's
engine. The nodes are reached over their TLS endpoints with the stack's client certificate,
so this works for any provider, and system-service or user images need no registry.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor

from blackfish.cluster import engines
from blackfish.errors import BlackfishError, UsageError
from blackfish.model.stack import Stack
from blackfish.state import StateDir

CHUNK = 1 << 20
LOAD_TIMEOUT = 600.0


def chosen_nodes(stack: Stack, names: list[str] | None) -> list:
    """The nodes named (every node when none is); an unknown name is a usage error."""
    if not names:
        return list(stack.nodes)
    known = {node.name: node for node in stack.nodes}
    if unknown := [name for name in names if name not in known]:
        raise UsageError(f"stack {stack.name!r} has no node {unknown[0]!r} (its nodes: {', '.join(known)})")
    return [known[name] for name in dict.fromkeys(names)]


def load_images(stack: Stack, state: StateDir, images: list[str], progress=None, nodes: list[str] | None = None) -> None:
    """Save each image from the host engine once, then load it into every node (or the named
    ones) at once."""
    targets = chosen_nodes(stack, nodes)
    from blackfish.providers.docker.provider import host_engine

    import docker

    host = host_engine()
    missing = []
    for name in images:
        try:
            host.images.get(name)
        except docker.errors.ImageNotFound:
            missing.append(name)
    if missing:
        raise UsageError(f"not on this machine's docker engine: {', '.join(missing)} (docker pull or build it first)")

    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="blackfish-load-") as tmp:
        for name in images:
            archive = Path(tmp) / "image.tar"
            with open(archive, "wb") as f:
                image = host.images.get(name)
                tag = next((t for t in (name, f"{name}:latest") if t in image.tags), True)
                for chunk in image.save(chunk_size=CHUNK, named=tag):
                    f.write(chunk)
            size = archive.stat().st_size

            def load(node) -> str | None:
                if progress:
                    progress(node.name, f"loading {name} ({size / 1e6:.1f} MB)")
                try:
                    engine = engines.client(node, state, timeout=LOAD_TIMEOUT)
                    try:
                        with open(archive, "rb") as f:
                            for message in engine.api.load_image(f):
                                if message.get("error"):
                                    raise BlackfishError(message["error"])
                    finally:
                        engine.close()
                except Exception as exc:  # report every node's failure, not just the first
                    return f"{node.name}: {name}: {engines.describe_error(exc)}"
                if progress:
                    progress(node.name, f"loaded {name}")
                return None

            with ThreadPoolExecutor(max_workers=max(1, len(targets))) as pool:
                failures += [f for f in pool.map(load, targets) if f]
    if failures:
        raise BlackfishError(f"could not load into {len(failures)} node(s)", detail="\n".join(failures))
