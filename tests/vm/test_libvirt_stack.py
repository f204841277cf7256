"""A 3-node stack on `provider: libvirt`: real VMs (QEMU; software emulation where KVM guests
cannot run), booted by the real vagrant and vagrant-libvirt from the blackfish libvirt test
box, and what a user does with them.

One stack is booted once for the module (about 4-5 minutes here, under TCG); the tests run in
order, as a user's session would: use the swarm, re-provision, lose a manager, halt, destroy.
The system-service images cannot be pulled here: `blackfish load` brings the ones `check`
needs from this machine's engine.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from blackfish.model.stack import Stack
from blackfish.providers.libvirt import names, resources
from tests.conftest import needs_docker
from tests.support.cluster import registry_image
from tests.support.images import busybox_image
from tests.support.libvirt import ensure_box, free_subnets, needs_libvirt, vagrant_env, virsh
from tests.support.vagrant import planned

pytestmark = pytest.mark.vm

NAME = "bfvm1"
NODES = ("m1", "m2", "m3")
NODES_YML = """\
stack: {name}
provider: libvirt
box: {box}
admin-network: {admin}
libvirt:
  management-network: {mgmt}
images:
  registry: {registry}
nodes:
  - name: m1
    ip: {prefix}.11
    memory: 1024
    cpus: 1
    docker-registry: true
  - name: m2
    ip: {prefix}.12
    memory: 1024
    cpus: 1
  - name: m3
    ip: {prefix}.13
    memory: 1024
    cpus: 1
"""
REGISTRY = f"registry.service.{NAME}:5000"
UP_TIMEOUT = 1500


class VmStack:
    """The stack's directory, a private BLACKFISH_HOME, the shared VAGRANT_HOME, the real CLI."""

    def __init__(self, workdir: Path, nodes_yml: str):
        self.workdir = workdir
        self.home = workdir / "home"
        self.nodes_file = workdir / "nodes.yml"
        self.nodes_file.write_text(nodes_yml)
        self.env = vagrant_env(BLACKFISH_HOME=str(self.home))
        self.env.pop("BLACKFISH_NODES_YML", None)

    def cli(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "blackfish", *args], cwd=self.workdir, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def ok(self, *args: str, timeout: float = 900) -> str:
        result = self.cli(*args, timeout=timeout)
        assert result.returncode == 0, f"blackfish {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def up(self, *extra: str) -> float:
        """`blackfish up`; the seconds it took."""
        started = time.monotonic()
        self.ok("up", NAME, "--parallel", "2", *extra, timeout=UP_TIMEOUT)
        return time.monotonic() - started

    def swarm_nodes(self) -> dict[str, tuple[str, str]]:
        """hostname -> (node ID, status) of the swarm's nodes, from `blackfish STACK node ls`."""
        out = self.ok(NAME, "node", "ls", "--format", "{{.Hostname}} {{.ID}} {{.Status}}")
        rows = [line.split() for line in out.splitlines() if line.strip()]
        return {host: (node_id, status) for host, node_id, status in rows}

    def on_node(self, node: str, command: str) -> str:
        return self.ok("ssh", NAME, node, "--", command)

    def status(self) -> dict[str, dict]:
        return {row["node"]: row for row in json.loads(self.ok("status", NAME, "--json"))}

    def plan(self) -> Stack:
        return planned(self.nodes_file)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(3)


def domains() -> set[str]:
    return set(virsh("list", "--all", "--name").stdout.split())


def running_domains() -> set[str]:
    return set(virsh("list", "--state-running", "--name").stdout.split())


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    needs_libvirt()
    needs_docker()  # `blackfish load` saves the images from this machine's engine
    box = ensure_box()
    admin, mgmt = free_subnets(2)
    prefix = admin.rsplit(".", 1)[0]
    text = NODES_YML.format(name=NAME, box=box.name, admin=admin, mgmt=mgmt, prefix=prefix, registry=registry_image())
    vm = VmStack(tmp_path_factory.mktemp(NAME), text)
    plan = planned(vm.nodes_file)
    resources.remove(plan)  # what an interrupted earlier run left (the names are fixed)
    vm.up_seconds = vm.up()
    print(f"\n{NAME}: `blackfish up` of 3 nodes returned after {vm.up_seconds:.0f} s")
    yield vm
    vm.cli("destroy", NAME, "--yes", timeout=600)
    resources.remove(plan)


def test_up_returns_once_the_swarm_has_formed(stack):
    # No waiting here: `up` itself waited for the swarm.
    nodes = stack.swarm_nodes()
    assert set(nodes) == set(NODES)
    assert {status for _, status in nodes.values()} == {"Ready"}
    managers = stack.ok(NAME, "node", "ls", "--filter", "role=manager", "--format", "{{.Hostname}}").split()
    assert sorted(managers) == list(NODES)


def test_domains_and_networks_are_named_after_the_stack_and_isolated(stack):
    plan = stack.plan()
    assert {f"{NAME}-{n}" for n in NODES} <= running_domains()
    status = stack.status()
    assert {row["state"] for row in status.values()} == {"running"}
    assert {row["domain"] for row in status.values()} == {f"{NAME}-{n}" for n in NODES}
    # The driver that runs, as libvirt reports it: qemu (TCG) on a machine where KVM guests cannot run.
    from blackfish.providers.libvirt import driver

    assert {row["driver"] for row in status.values()} == {driver.detect()}
    for network in (names.admin_network(plan), names.management_network(plan)):
        xml = virsh("net-dumpxml", network).stdout
        assert "<forward" not in xml, f"{network} forwards traffic off this host:\n{xml}"
    admin_xml = virsh("net-dumpxml", names.admin_network(plan)).stdout
    assert f"address='{plan.admin_network.rsplit('.', 1)[0]}.1'" in admin_xml
    assert "<dhcp>" not in admin_xml


def test_every_vm_has_its_own_machine_id(stack):
    ids = {node: stack.on_node(node, "cat /etc/machine-id").strip() for node in NODES}
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in ids.values()), ids
    assert len(set(ids.values())) == len(NODES), ids


def test_ssh_runs_a_command_line_through_the_nodes_shell(stack):
    out = stack.on_node("m2", "echo one; echo two && hostname")
    assert out.split() == ["one", "two", "m2"]
    failed = stack.cli("ssh", NAME, "m2", "--", "exit 7")
    assert failed.returncode == 7


def test_check_passes_for_what_runs_offline(stack):
    busybox, registry = busybox_image(), registry_image()
    stack.ok("load", NAME, busybox, registry, timeout=900)
    result = stack.cli("check", NAME, "--image", busybox, "--json", timeout=600)
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = {(c["check"], c["target"]): c["result"] for c in report["checks"]}
    assert all(outcome[("engine", n)] == "ok" and outcome[("swarm", n)] == "ok" for n in NODES)
    assert outcome[("service", "swarm")] == "ok"
    assert outcome[("registry", REGISTRY)] == "ok"
    assert outcome[("consul", "members")] == "skip"  # no consul image here


def test_provision_reapplies_changed_user_data_on_running_nodes(stack):
    before = stack.swarm_nodes()
    text = stack.nodes_file.read_text()
    stack.nodes_file.write_text(text.replace("  - name: m3\n", "  - name: m3\n    labels: {reprovisioned: \"yes\"}\n"))
    stack.ok("provision", NAME, "--parallel", "2", timeout=UP_TIMEOUT)
    # The engine of m3 carries the new label: the node applied its new user-data without a reboot.
    labels = stack.on_node("m3", "docker info --format '{{json .Labels}}'")
    assert "reprovisioned=yes" in labels
    assert stack.swarm_nodes() == before


def test_a_killed_manager_leaves_the_proxy_answering_and_up_restores_it(stack):
    before = stack.swarm_nodes()
    virsh("destroy", f"{NAME}-m1")  # power off the first manager, no shutdown

    def answer():
        result = stack.cli(NAME, "info", "--format", "{{.Name}}", timeout=120)
        return result.stdout.strip() if result.returncode == 0 else None

    assert wait_for(answer, 180, "the proxy to answer through another manager") in {"m2", "m3"}
    assert stack.status()["m1"]["state"] != "running"
    stack.up()
    assert stack.swarm_nodes() == before


def test_halt_then_up_gives_back_the_same_swarm(stack):
    before = stack.swarm_nodes()
    stack.ok("halt", NAME, timeout=600)
    assert {row["state"] for row in stack.status().values()} == {"shutoff"}
    assert not {f"{NAME}-{n}" for n in NODES} & running_domains()
    seconds = stack.up()
    print(f"\n{NAME}: `blackfish up` after halt returned after {seconds:.0f} s")
    assert stack.swarm_nodes() == before


def test_destroy_leaves_no_domain_volume_or_network_of_the_stack(stack):
    plan = stack.plan()
    result = stack.cli("destroy", NAME, "--yes", timeout=600)
    assert result.returncode == 0, result.stderr
    assert resources.remains(plan) == []
    assert not {f"{NAME}-{n}" for n in NODES} & domains()
    assert not {names.admin_network(plan), names.management_network(plan)} & set(virsh("net-list", "--all", "--name").stdout.split())
    volumes = virsh("vol-list", resources.POOL).stdout
    assert not [line for line in volumes.splitlines() if line.split() and line.split()[0].startswith(f"{NAME}-")]
    assert (stack.home / NAME / "ca.pem").is_file()  # the PKI stays
