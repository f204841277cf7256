"""`up` as one ordered pipeline for every provider, driven with a provider double (the real
providers are tested against the real vagrant and docker elsewhere)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from blackfish import lifecycle, record
from blackfish.errors import MissingToolError, ProviderError, UsageError
from blackfish.lifecycle.pipeline import READY_TIMEOUT_ENV
from blackfish.state import StateDir
from tests.support.provider_double import ProviderDouble
from tests.support.vagrant import tree

STEPS = ["check", "plan", "pki", "render", "boot", "ready"]


class Steps:
    """A Reporter that keeps what `up` says: the steps in order, each node's last phase per step."""

    def __init__(self):
        self.events: list[tuple[str, str, bool | None]] = []
        self.lines: dict[tuple[str, str], str] = {}
        self.current: dict[str, str] = {}

    def begin(self, step):
        self.events.append(("begin", step, None))
        self.current = {}

    def node(self, step, node, phase):
        self.current[node] = phase

    def end(self, step, ok):
        self.events.append(("end", step, ok))
        self.lines.update({(step, node): phase for node, phase in self.current.items()})


@pytest.fixture
def state(stack, tmp_path):
    return StateDir(stack.name, tmp_path / "home")


@pytest.fixture
def no_wait_for_engines(monkeypatch):
    monkeypatch.setenv(READY_TIMEOUT_ENV, "0")


def test_up_runs_every_step_in_order_with_a_line_per_node(fleet, stack, state, no_wait_for_engines):
    steps = Steps()
    with pytest.raises(ProviderError):  # nothing answers at the double's engine endpoint
        lifecycle.up(stack, state=state, parallel=2, reporter=steps)
    assert steps.events == [e for s in STEPS for e in (("begin", s, None), ("end", s, s != "ready"))]
    assert fleet["virtualbox"].calls[:2] == [("check", False), ("boot", 2, False, True, "virtualbox")]
    for node in ("vt-01", "vt-02", "edge"):
        assert [s for s in STEPS if (s, node) in steps.lines] == STEPS
    assert steps.lines[("check", "edge")] == "the virtualbox provider can boot it"
    assert steps.lines[("plan", "edge")] == "192.168.56.13 consul-server, swarm-manager, lb"
    assert steps.lines[("pki", "vt-01")] == "certificate issued"
    assert steps.lines[("render", "vt-02")] == "user-data written"
    assert steps.lines[("boot", "vt-01")] == "running"
    assert steps.lines[("ready", "vt-01")] == "waiting for its engine (TLS)"


def test_the_readiness_step_runs_for_a_vagrant_stack_and_names_node_step_and_reason(fleet, stack, state,
                                                                                   no_wait_for_engines):
    with pytest.raises(ProviderError) as caught:
        lifecycle.up(stack, state=state)
    double = fleet["virtualbox"]
    port = double.port
    assert [c for c in double.calls if c[0] == "endpoint"][:3] == [("endpoint", "vt-01"), ("endpoint", "vt-02"),
                                                                    ("endpoint", "edge")]
    message = caught.value.message
    assert message.startswith("ready step: stack 'vt': 3 node(s) not ready after 0 s: ")
    assert f"vt-01: engine tcp://127.0.0.1:{port} does not answer over TLS: connection refused" in message
    # The late nodes were looked into through the provider's ssh command line (their units).
    assert {c[1] for c in double.calls if c[0] == "ssh"} == {"vt-01", "vt-02", "edge"}
    # The boot is recorded: a failed wait does not make blackfish forget the machines.
    assert record.booted(state).provider == "virtualbox"
    assert record.booted(state).nodes == ("vt-01", "vt-02", "edge")


def test_no_wait_skips_the_readiness_step(fleet, stack, state):
    steps = Steps()
    rows = lifecycle.up(stack, state=state, wait=False, reporter=steps)
    assert [r["state"] for r in rows] == ["running"] * 3
    assert not [c for c in fleet["virtualbox"].calls if c[0] in ("endpoint", "ssh")]
    assert steps.lines[("ready", "edge")] == "not waited for (--no-wait)"


def test_the_boot_is_recorded_with_when(fleet, stack, state):
    lifecycle.up(stack, state=state, wait=False)
    booted = record.booted(state)
    assert booted.provider == "virtualbox" and booted.nodes == ("vt-01", "vt-02", "edge")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", booted.at)


def test_a_bad_ready_timeout_is_refused_before_anything_is_written(fleet, stack, state, monkeypatch):
    monkeypatch.setenv(READY_TIMEOUT_ENV, "soon")
    with pytest.raises(UsageError, match=r"\$BLACKFISH_UP_TIMEOUT must be a number of seconds, not 'soon'"):
        lifecycle.up(stack, state=state)
    assert not state.path.exists()


def test_a_failed_check_leaves_no_state_behind(fleet, stack, state):
    fleet["virtualbox"] = ProviderDouble("virtualbox", fail_check=True)
    with pytest.raises(MissingToolError):
        lifecycle.up(stack, state=state)
    assert not state.path.parent.exists()


def test_a_failed_check_leaves_an_existing_state_untouched(fleet, stack, state):
    lifecycle.up(stack, state=state, wait=False)
    before = tree(state.path)
    fleet["virtualbox"].fail_check = True
    with pytest.raises(MissingToolError):
        lifecycle.up(stack, state=state)
    assert tree(state.path) == before


def test_another_provider_may_not_boot_a_stack_whose_nodes_exist(fleet, stack, state):
    lifecycle.up(stack, state=state, wait=False)
    before = tree(state.path)
    elsewhere = dataclasses.replace(stack, provider="docker")
    with pytest.raises(UsageError, match=r"has nodes on the virtualbox provider \(vt-01, vt-02, edge\); "
                                         r"run `blackfish destroy vt` first, or boot it with --provider virtualbox"):
        lifecycle.up(elsewhere, state=state)
    assert tree(state.path) == before  # the record still says virtualbox booted it
    lifecycle.destroy(stack, state)
    lifecycle.up(elsewhere, state=state, wait=False)
    assert record.booted(state).provider == "docker"


class ShellSsh(ProviderDouble):
    """ssh's way (and `vagrant ssh -c`'s): the command words joined by spaces, parsed by a shell."""

    def ssh_argv(self, stack, state, node, command):
        return ["sh", "-c", " ".join(command)]


class ExecSsh(ProviderDouble):
    """docker exec's way: the command words run as they are."""

    ssh_uses_shell = False

    def ssh_argv(self, stack, state, node, command):
        return list(command)


@pytest.mark.parametrize("double", [ShellSsh, ExecSsh])
def test_commands_into_a_node_keep_their_words_whatever_the_providers_ssh_does(double, tmp_path):
    """The ready step's `sh -c SCRIPT - UNIT...` into a node: through a shell-parsing ssh, each
    word is quoted so that the node's shell gives back the same words."""
    from blackfish.lifecycle.pipeline import in_node

    run = in_node(double("double"), None, StateDir(tmp_path), "n1")  # these doubles need no stack
    words = ("sh", "-c", 'printf "<%s>" "$@"', "-", "a b", "$HOME", "it's", "{{json .}}")
    assert run(words) == (0, "<a b><$HOME><it's><{{json .}}>")
