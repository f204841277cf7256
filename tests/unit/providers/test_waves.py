"""Booting in waves: the first node alone (unless the provider needs no such node), then
`parallel` at a time; a failure lets its wave finish, starts no new wave, and is reported for
every failed node at once."""

from __future__ import annotations

import threading
import time

import pytest

from blackfish.errors import EXIT_MISSING_TOOL, MissingToolError, ProviderError
from blackfish.model.stack import Node
from blackfish.providers.waves import boot_in_waves, waves


def nodes(*names: str) -> list[Node]:
    return [Node(name=n, ip=f"10.0.0.{i + 1}", stack="s", dc="dc1", roles=()) for i, n in enumerate(names)]


class Recorder:
    """A boot function that notes who runs at the same time, failing for the names given."""

    def __init__(self, fail: dict[str, BaseException] | None = None):
        self.lock = threading.Lock()
        self.running: set[str] = set()
        self.seen: list[tuple[str, frozenset]] = []
        self.fail = fail or {}
        self.phases: list[tuple[str, str]] = []

    def __call__(self, node: Node) -> None:
        with self.lock:
            self.running.add(node.name)
            self.seen.append((node.name, frozenset(self.running)))
        time.sleep(0.05)
        with self.lock:
            self.running.discard(node.name)
        if node.name in self.fail:
            raise self.fail[node.name]

    def progress(self, node: str, phase: str) -> None:
        self.phases.append((node, phase))


def test_the_waves_are_the_first_node_then_groups_of_parallel():
    assert [[n.name for n in w] for w in waves(nodes("a", "b", "c", "d", "e"), 2)] == [["a"], ["b", "c"], ["d", "e"]]
    assert waves([], 3) == []


def test_the_first_node_boots_alone_then_up_to_parallel_at_once():
    boot = Recorder()
    boot_in_waves(nodes("a", "b", "c", "d", "e"), boot, parallel=2, progress=boot.progress)
    assert boot.seen[0] == ("a", frozenset({"a"}))
    assert sorted(name for name, _ in boot.seen) == ["a", "b", "c", "d", "e"]
    assert max(len(together) for _, together in boot.seen) == 2


def test_without_a_first_node_alone_the_first_wave_is_parallel_nodes():
    """The docker provider: its nodes share nothing the first must create, and the swarm
    bootstrap in their user-data orders itself."""
    assert [[n.name for n in w] for w in waves(nodes("a", "b", "c", "d", "e"), 2, first_alone=False)] == [
        ["a", "b"], ["c", "d"], ["e"]]
    boot = Recorder()
    boot_in_waves(nodes("a", "b", "c"), boot, parallel=3, progress=boot.progress, first_alone=False)
    assert max(len(together) for _, together in boot.seen) == 3


def test_without_a_first_node_alone_a_failure_still_names_every_failed_node_of_its_wave():
    boot = Recorder(fail={"a": ProviderError("cannot start its container"), "c": ProviderError("no systemd")})
    with pytest.raises(ProviderError) as caught:
        boot_in_waves(nodes("a", "b", "c", "d"), boot, parallel=3, progress=boot.progress, first_alone=False)
    assert sorted(name for name, _ in boot.seen) == ["a", "b", "c"]  # the failing wave finished; d never starts
    assert caught.value.message == "boot failed on 2 nodes: a: cannot start its container; c: no systemd"
    assert sorted(boot.phases) == [("a", "failed: cannot start its container"), ("c", "failed: no systemd")]


def test_parallel_1_boots_one_after_the_other():
    boot = Recorder()
    boot_in_waves(nodes("a", "b", "c"), boot, parallel=1, progress=boot.progress)
    assert [name for name, _ in boot.seen] == ["a", "b", "c"]
    assert all(len(together) == 1 for _, together in boot.seen)


def test_a_failed_first_node_stops_everything():
    boot = Recorder(fail={"a": ProviderError("`vagrant up a` failed", detail="the log")})
    with pytest.raises(ProviderError) as caught:
        boot_in_waves(nodes("a", "b", "c"), boot, parallel=2, progress=boot.progress)
    assert caught.value.message == "boot failed on a: `vagrant up a` failed"
    assert caught.value.detail == "the log"
    assert [name for name, _ in boot.seen] == ["a"]
    assert boot.phases == [("a", "failed: `vagrant up a` failed")]


def test_a_failure_lets_its_wave_finish_starts_no_new_wave_and_names_every_failed_node():
    boot = Recorder(fail={"b": ProviderError("disk full"), "c": RuntimeError("boom")})
    with pytest.raises(ProviderError) as caught:
        boot_in_waves(nodes("a", "b", "c", "d", "e"), boot, parallel=3, progress=boot.progress)
    assert sorted(name for name, _ in boot.seen) == ["a", "b", "c", "d"]  # d was in the failing wave; e never starts
    assert caught.value.message == "boot failed on 2 nodes: b: disk full; c: RuntimeError: boom"
    assert caught.value.exit_code == 1
    assert set(boot.phases) == {("b", "failed: disk full"), ("c", "failed: RuntimeError: boom")}


def test_the_error_exits_like_its_causes_when_they_agree():
    unusable = MissingToolError("the virtualbox provider is not usable on this machine")
    boot = Recorder(fail={"b": unusable, "c": unusable})
    with pytest.raises(ProviderError) as caught:
        boot_in_waves(nodes("a", "b", "c"), boot, parallel=2, progress=boot.progress)
    assert caught.value.exit_code == EXIT_MISSING_TOOL
