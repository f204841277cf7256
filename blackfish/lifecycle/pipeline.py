"""`blackfish up`: one ordered pipeline of steps, the same for every provider (kind's create
actions are the model).

    check   the provider's preflight; writes nothing (a machine that cannot boot the stack
            leaves the state directory exactly as it was), so it runs before the lock; before
            it, a stack whose nodes exist on another provider is refused
    plan    the nodes, their addresses and roles
    pki     the CA and each node's certificate
    render  each node's user-data, and the plan in stack.json
    boot    the provider boots the nodes in waves; stack.json records `booted` first
    ready   every engine answers over TLS at provider.engine_endpoint(), the swarm has the
            planned managers and workers, each node's system units are reported
            (skipped with --no-wait)

Each step reports one line per node when it ends (Reporter.end); a failure names the node,
the step and the reason. The summary (status table, what to type next) is the CLI's.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Protocol

from blackfish import providers, record, tools
from blackfish.cluster import readiness, units
from blackfish.errors import BlackfishError, ProviderError, UsageError
from blackfish.model.stack import Stack
from blackfish.providers.base import Provider
from blackfish.state import StateDir

READY_TIMEOUT_ENV = "BLACKFISH_UP_TIMEOUT"
READY_TIMEOUT = 300.0
REMOTE_TIMEOUT = 60.0  # one command run in a node through the provider's ssh command line


class Reporter(Protocol):
    """Hears the pipeline: a step begins, a node's phase in it changes (any thread), it ends."""

    def begin(self, step: str) -> None: ...

    def node(self, step: str, node: str, phase: str) -> None: ...

    def end(self, step: str, ok: bool) -> None: ...


class Quiet:
    def begin(self, step: str) -> None:
        pass

    def node(self, step: str, node: str, phase: str) -> None:
        pass

    def end(self, step: str, ok: bool) -> None:
        pass


@dataclasses.dataclass
class Up:
    """One run of the pipeline: what every step reads."""

    stack: Stack
    state: StateDir
    provider: Provider
    parallel: int
    provision: bool
    templates: Path | None
    ready_timeout: float
    reporter: Reporter

    def say(self, step: str) -> Callable[[str, str], None]:
        return lambda node, phase: self.reporter.node(step, node, phase)


def up(stack: Stack, *, state: StateDir | None = None, parallel: int = 1, provision: bool = False,
       templates: Path | None = None, wait: bool = True, reporter: Reporter | None = None) -> list[dict]:
    """Boot (or re-provision) every node; return the nodes' status afterwards."""
    state = state or StateDir(stack.name)
    if templates is not None:
        stack = dataclasses.replace(stack, templates=Path(templates))
    run = Up(stack=stack, state=state, provider=providers.get(stack.provider), parallel=parallel,
             provision=provision, templates=templates, ready_timeout=ready_timeout(),
             reporter=reporter or Quiet())
    refuse_provider_switch(stack, state)
    _run_step(run, "check", check_step)  # before the lock: lock() creates the state directory
    steps = STEPS if wait else (*STEPS[:-1], ("ready", no_wait_step))
    with state.lock():
        for name, step in steps:
            _run_step(run, name, step)
    return with_groups(stack, run.provider.status(stack.whole(), state))


def with_groups(stack: Stack, rows: list[dict]) -> list[dict]:
    """Status rows with each node's group (its nodes file) right after its name."""
    groups = {n.name: n.group or "-" for n in stack.all_nodes}
    return [{"node": row["node"], "group": groups.get(row["node"], "-"), **row} for row in rows]


def _run_step(run: Up, name: str, step: Callable[[Up], None]) -> None:
    run.reporter.begin(name)
    try:
        step(run)
    except BaseException:
        run.reporter.end(name, ok=False)
        raise
    run.reporter.end(name, ok=True)


def ready_timeout() -> float:
    value = os.environ.get(READY_TIMEOUT_ENV)
    try:
        seconds = float(value) if value else READY_TIMEOUT
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise UsageError(f"${READY_TIMEOUT_ENV} must be a number of seconds, not {value!r}")
    return seconds


def refuse_provider_switch(stack: Stack, state: StateDir) -> None:
    """A stack lives on one provider at a time: booting it elsewhere while nodes of the
    recorded provider still exist would give two clusters one PKI and one set of IPs."""
    booted = record.booted(state)
    if booted is None or booted.provider == stack.provider:
        return
    previous = record.stack(state)
    alive = [row["node"] for row in providers.get(booted.provider).status(previous, state)
             if row.get("state") != providers.NOT_CREATED]
    if alive:
        raise UsageError(
            f"stack {stack.name!r} has nodes on the {booted.provider} provider ({', '.join(alive)}); "
            f"run `blackfish destroy {stack.name}` first, or boot it with --provider {booted.provider}"
        )


# --- the steps --------------------------------------------------------------------------

# Providers on which several groups (nodes files) of one stack are known to work (docs/groups.md).
GROUP_PROVIDERS = ("docker",)


def check_step(run: Up) -> None:
    run.provider.check(run.stack, run.state)  # may take long: Vagrant downloads a missing box here
    for node in run.stack.nodes:
        run.reporter.node("check", node.name, f"the {run.provider.name} provider can boot it")


def plan_step(run: Up) -> None:
    groups = run.stack.groups
    if len(groups) > 1 and run.provider.name not in GROUP_PROVIDERS:
        raise UsageError(
            f"stack {run.stack.name!r} has several groups ({', '.join(groups)}); blackfish boots a stack from several "
            f"nodes files on the {', '.join(GROUP_PROVIDERS)} provider only, not on {run.provider.name} "
            "(its machines are managed per stack, see docs/groups.md)")
    for node in run.stack.nodes:
        run.reporter.node("plan", node.name, f"{node.ip} {', '.join(node.roles) or 'worker'}")


def pki_step(run: Up) -> None:
    from blackfish import pki

    written = set(pki.ensure_pki(run.stack, run.state))
    for node in run.stack.nodes:
        issued = pki.node_cert(node.name) in written
        run.reporter.node("pki", node.name, "certificate issued" if issued else "certificate kept")


def render_step(run: Up) -> None:
    from blackfish.render import render_stack

    for rendered in render_stack(run.stack, run.state, run.templates):
        run.reporter.node("render", rendered.node.name,
                          "user-data written" if rendered.changed else "user-data unchanged")


def boot_step(run: Up) -> None:
    # Recorded before anything boots: an interrupted boot must not be forgotten.
    group = run.stack.own_group()  # the other groups' nodes are theirs to boot (docs/groups.md)
    record.save_booted(run.state, run.provider.name, [n.name for n in group.nodes])
    run.provider.boot(group, run.state, parallel=run.parallel, provision=run.provision, progress=run.say("boot"))


def ready_step(run: Up) -> None:
    stack, state, provider = run.stack, run.state, run.provider
    say = run.say("ready")

    def endpoint(node):
        return provider.engine_endpoint(stack, state, node)

    def diagnose(name: str) -> str | None:
        node = stack.node(name)
        try:
            return units.diagnose(in_node(provider, stack, state, name), units.unit_names(state, node))
        except BlackfishError as exc:
            return f"could not look inside: {exc.message}"

    try:
        readiness.wait(stack, state, endpoint, run.ready_timeout, progress=say, diagnose=diagnose)
    except ProviderError as exc:
        raise ProviderError(f"ready step: {exc.message}", detail=exc.detail) from exc

    def report(node) -> None:
        try:
            states = units.unit_states(in_node(provider, stack, state, node.name), units.unit_names(state, node))
            say(node.name, f"ready; units: {units.summary(states)}")
        except BlackfishError as exc:
            say(node.name, f"ready; units not reported: {exc.message}")

    with ThreadPoolExecutor(max_workers=max(1, len(stack.nodes))) as pool:
        list(pool.map(report, stack.nodes))


def no_wait_step(run: Up) -> None:
    for node in run.stack.nodes:
        run.reporter.node("ready", node.name, "not waited for (--no-wait)")


STEPS: tuple[tuple[str, Callable[[Up], None]], ...] = (
    ("plan", plan_step), ("pki", pki_step), ("render", render_step), ("boot", boot_step), ("ready", ready_step),
)


def in_node(provider: Provider, stack: Stack, state: StateDir, node: str) -> units.Run:
    """run(argv) -> (exit code, output) inside a node, through the provider's ssh command line."""

    def run(argv: tuple[str, ...]) -> tuple[int, str]:
        words = [shlex.join(argv)] if provider.ssh_uses_shell else list(argv)
        command = provider.ssh_argv(stack, state, node, words)
        tools.log_command(command)
        try:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  errors="replace", timeout=REMOTE_TIMEOUT)
        except FileNotFoundError:
            raise BlackfishError(f"{command[0]} is not installed") from None
        except subprocess.TimeoutExpired:
            raise BlackfishError(f"no answer from {node} within {REMOTE_TIMEOUT:.0f} s") from None
        return done.returncode, done.stdout

    return run
