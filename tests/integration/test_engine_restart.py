"""A node's engine takes its new settings when user-data is applied, even while units that
need the engine are being started, against a real systemd and dockerd: the node image booted
as the docker provider boots it, given the engine part of a rendered user-data.

On the nodes, the swarm-sync timer starts a unit that requires docker.service every minute.
If that happens while the apply has the engine stopping, systemd replaces the stop job with a
start job: a stop/start sequence then fails ("Job for docker.service canceled.") and the old
engine, with its old settings, keeps running. CI saw exactly this after `blackfish provision`."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import pytest

from blackfish.render import cloudinit
from blackfish.render.cloudinit import Entry
from tests.support.rendered import render_yaml
from tests.support.systemd_node import sh, systemd_node
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

STACK = ('stack: enginerestart\nprovider: docker\nadmin-network: 10.244.20.0/24\n'
         'nodes: [{{ip: 10.244.20.11, labels: {{round: "{round}"}}}}]\n')
ENGINE_UNITS = ("docker.service", "docker-tls-tcp.socket")
# Stops slowly, like the node's containers: while it stops, the engine's job waits in the queue.
SLOW_TO_STOP = ("[Unit]\nRequires=docker.service\nAfter=docker.service\n"
                "[Service]\nExecStart=/bin/sleep infinity\nExecStop=/bin/sleep 8\n")
# Needs the engine, like blackfish-swarm-sync.service, which its timer starts every minute.
NEEDS_ENGINE = ("[Unit]\nRequires=docker.service\nAfter=docker.service\n"
                "[Service]\nType=oneshot\nExecStart=/bin/true\n")


@pytest.fixture(scope="module")
def node():
    with systemd_node("enginerestart", "10.244.20.11") as (container, target):
        target.put((Entry("/etc/systemd/system/slow-to-stop.service", SLOW_TO_STOP.encode()),
                    Entry("/etc/systemd/system/needs-engine.service", NEEDS_ENGINE.encode())))
        # The image's engine is socket-activated: start it, as a node's first docker call would.
        assert sh(container, "systemctl daemon-reload && systemctl start docker.service").returncode == 0
        yield container, target


def engine_part(tmp_path, round_: str) -> cloudinit.CloudConfig:
    """The rendered user-data's files and its engine units (the rest would start the stack)."""
    _, _, nodes = render_yaml(STACK.format(round=round_), tmp_path)
    config = cloudinit.parse(nodes[0].path.read_text())
    return dataclasses.replace(config, units=tuple(u for u in config.units if u.name in ENGINE_UNITS))


def apply_while_a_unit_needing_the_engine_starts(container, target, config) -> list[str]:
    assert sh(container, "systemctl start slow-to-stop.service").returncode == 0
    with ThreadPoolExecutor(1) as pool:
        applying = pool.submit(cloudinit.apply, config, target)
        wait_for(lambda: "docker.service" in sh(container, "systemctl list-jobs --no-legend").stdout,
                 120, "the apply to queue a job for the engine", interval=0.2)
        assert sh(container, "systemctl start --no-block needs-engine.service").returncode == 0
        return applying.result(timeout=300)


def engine(container) -> tuple[str, str]:
    """The engine's main PID and its labels, as its own API reports them."""
    pid = sh(container, "systemctl show --property MainPID --value docker.service").stdout.strip()
    labels = sh(container, "docker info --format '{{json .Labels}}'").stdout.strip()
    return pid, labels


@pytest.mark.parametrize("round_", ["first", "second"])  # from the image's engine, then a re-apply
def test_the_engine_restarts_with_its_new_settings(node, tmp_path, round_):
    container, target = node
    pid_before, _ = engine(container)
    failures = apply_while_a_unit_needing_the_engine_starts(container, target, engine_part(tmp_path, round_))
    assert failures == []
    pid, labels = engine(container)
    assert pid != pid_before and f'"round={round_}"' in labels
    assert sh(container, "systemctl is-active docker-tls-tcp.socket").stdout.strip() == "active"
