"""Booting a stack's nodes in waves, with one failure policy for every provider.

The first node boots alone where it creates what the others share (VirtualBox imports the
box into its first VM), then `parallel` nodes at a time; a provider whose nodes share
nothing of the kind boots `parallel` at a time from the start (`first_alone=False`: the
docker provider; its nodes' swarm bootstrap orders itself). When a node fails, the rest of
its wave finishes (a half-booted machine is worse than a booted one), no new wave starts,
and one ProviderError names every node that failed with its reason.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

from blackfish.errors import BlackfishError, ProviderError
from blackfish.model.stack import Node
from blackfish.providers.base import Progress


def waves(nodes: Sequence[Node], parallel: int, first_alone: bool = True) -> list[list[Node]]:
    """The first node alone (unless not first_alone), then groups of `parallel`."""
    nodes, size = list(nodes), max(1, parallel)
    first = [nodes[:1]] if first_alone and nodes else []
    return first + [nodes[i:i + size] for i in range(len(first), len(nodes), size)]


def boot_in_waves(nodes: Sequence[Node], boot_one: Callable[[Node], None], *, parallel: int,
                  progress: Progress, first_alone: bool = True) -> None:
    """boot_one(node) for every node, wave by wave; raise one ProviderError for every failure."""
    planned = waves(nodes, parallel, first_alone)
    if not planned:
        return
    with ThreadPoolExecutor(max_workers=max(len(w) for w in planned)) as pool:
        for wave in planned:
            futures = [(node, pool.submit(boot_one, node)) for node in wave]
            failed = [(node, f.exception()) for node, f in futures if f.exception() is not None]
            for node, exc in failed:
                progress(node.name, f"failed: {reason(exc)}")
            if failed:
                raise failure(failed) from failed[0][1]


def reason(exc: BaseException) -> str:
    if isinstance(exc, BlackfishError):
        return exc.message
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def failure(failed: list[tuple[Node, BaseException]]) -> ProviderError:
    """One error for every failed node; it exits like its causes when they all agree (3 when
    each node found the provider unusable, say), else 1."""
    if len(failed) == 1:
        message = f"boot failed on {failed[0][0].name}: {reason(failed[0][1])}"
    else:
        message = f"boot failed on {len(failed)} nodes: " + "; ".join(f"{n.name}: {reason(e)}" for n, e in failed)
    details = [(n.name, e.detail) for n, e in failed if isinstance(e, BlackfishError) and e.detail]
    detail = "\n".join(d if len(failed) == 1 else f"--- {name}\n{d}" for name, d in details) or None
    error = ProviderError(message, detail=detail)
    codes = {e.exit_code if isinstance(e, BlackfishError) else ProviderError.exit_code for _, e in failed}
    if len(codes) == 1:
        error.exit_code = codes.pop()
    return error
