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

import pytest

from blackfish.providers.libvirt import names, resources
from tests.conftest import needs_docker
from tests.support.cluster import registry_image
from tests.support.images import busybox_image
from tests.support.service_images import haproxy_image
from tests.support.libvirt import ensure_box, needs_libvirt, virsh
from tests.support.vmstack import UP_TIMEOUT, VmStack, nodes_yml
from tests.support.waiting import wait_for

pytestmark = pytest.mark.vm

NAME = "bfvm1"
NODES = ("m1", "m2", "m3")
REGISTRY = f"registry.service.{NAME}:5000"


def domains() -> set[str]:
    return set(virsh("list", "--all", "--name").stdout.split())


def running_domains() -> set[str]:
    return set(virsh("list", "--state-running", "--name").stdout.split())


# Under emulation a starved VM can miss raft heartbeats for the election timeout (10 s), also
# after `up` returned: the new leader then marks every node `unknown` until it reports again
# (swarmkit's dispatcher), for a minute or so here. The swarm is the same one all along.
SETTLE_SECONDS = 300


def ready_swarm(stack, expected: dict | None = None) -> dict:
    """`node ls`'s hostname -> (ID, status) once every node is Ready again; with `expected`,
    once it is exactly that (the same node IDs: the same swarm)."""
    seen = {}

    def look():
        try:
            seen["last"] = nodes = stack.swarm_nodes()
        except AssertionError as exc:  # no leader at this moment
            seen["last"] = str(exc)[-300:]
            return None
        return nodes if set(nodes) == set(NODES) and expected in (None, nodes) else None

    try:
        return wait_for(look, SETTLE_SECONDS, f"node ls to show {expected or 'every node'} Ready", interval=5)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last seen: {seen.get('last')}") from None


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    needs_libvirt()
    needs_docker()  # `blackfish load` saves the images from this machine's engine
    box = ensure_box()
    vm = VmStack(NAME, tmp_path_factory.mktemp(NAME), nodes_yml(NAME, box.name, NODES, registry=registry_image(), haproxy=haproxy_image()))
    vm.remove_leftovers()
    try:
        seconds = vm.up()
        print(f"\n{NAME}: `blackfish up` of {len(NODES)} nodes returned after {seconds:.0f} s")
        yield vm
    except BaseException:
        print(vm.diagnose(NODES))
        raise
    finally:
        vm.destroy()
        vm.remove_leftovers()


def test_up_returns_once_the_swarm_has_formed(stack):
    # `up` itself waited for the swarm: its ready step saw each node a Ready member in its role.
    for node in NODES:
        assert re.search(rf"^{node} +ready +ready; units: ", stack.up_report, re.M), stack.up_report
    # And it is the swarm `node ls` shows (once settled: see SETTLE_SECONDS).
    ready_swarm(stack)
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
    ids = {node: stack.on_node(node, "cat /etc/machine-id").stdout.strip() for node in NODES}
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in ids.values()), ids
    assert len(set(ids.values())) == len(NODES), ids


def test_ssh_runs_a_command_line_through_the_nodes_shell(stack):
    ran = stack.on_node("m2", "echo one; echo two && hostname")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["one", "two", "m2"]
    assert stack.on_node("m2", "exit 7").returncode == 7


def test_check_passes_for_what_runs_offline(stack):
    # busybox for the global service on every node; the registry and its TLS front (haproxy)
    # run on m1 only.
    stack.ok("load", NAME, busybox_image(), timeout=900)
    stack.ok("load", NAME, registry_image(), haproxy_image(), "--node", "m1", timeout=900)
    result = stack.cli("check", NAME, "--image", busybox_image(), "--json", timeout=600)
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = {(c["check"], c["target"]): c["result"] for c in report["checks"]}
    assert all(outcome[("engine", n)] == "ok" and outcome[("swarm", n)] == "ok" for n in NODES)
    assert outcome[("service", "swarm")] == "ok"
    assert outcome[("registry", REGISTRY)] == "ok"
    assert outcome[("consul", "members")] == "skip"  # no consul image here


def test_provision_reapplies_changed_user_data_on_running_nodes(stack):
    before = ready_swarm(stack)
    text = stack.nodes_file.read_text()
    stack.nodes_file.write_text(text.replace("{name: m3, ", "{name: m3, labels: {reprovisioned: \"yes\"}, "))
    stack.ok("provision", NAME, "--parallel", "2", timeout=UP_TIMEOUT)
    # The engine of m3 carries the new label: the node applied its new user-data without a reboot.
    labels = stack.on_node("m3", "docker info --format '{{json .Labels}}'").stdout
    assert "reprovisioned=yes" in labels, labels + applies(stack, "m3")
    # Once per node (vagrant-libvirt's `up --provision` would run the provisioners twice).
    log = (stack.home / NAME / "vagrant" / "up.log").read_text()
    assert sorted(re.findall(r"==> (m\d): Running provisioner: apply-user-data", log)) == list(NODES), log[-3000:]
    ready_swarm(stack, before)


def applies(stack, node: str) -> str:
    """What a node did with its user-data: the apply unit's journal, what it applied last and
    what it was given, the engine's configured labels and when the engine last started."""
    ran = stack.on_node(node, "sudo journalctl --no-pager -b -o short-precise -u 'user-cloudinit@*' | tail -n 60; "
                              "sudo cat /var/lib/blackfish/applied-user-data.sha256; "
                              "sudo sha256sum /var/lib/flatcar-vagrant/vagrantfile-user-data; "
                              "sudo grep -A4 labels /etc/docker/daemon.json; "
                              "systemctl show -p ActiveEnterTimestamp -p NRestarts docker.service")
    log = (stack.home / NAME / "vagrant" / "up.log").read_text()
    return f"\n--- {node}:\n{ran.stdout}{ran.stderr}\n--- up.log:\n{log[-4000:]}"


def test_a_killed_manager_leaves_the_proxy_answering_and_up_restores_it(stack):
    before = ready_swarm(stack)
    virsh("destroy", f"{NAME}-m1")  # power off the first manager, no shutdown

    def answer():
        result = stack.cli(NAME, "info", "--format", "{{.Name}}", timeout=120)
        return result.stdout.strip() if result.returncode == 0 else None

    assert wait_for(answer, 180, "the proxy to answer through another manager", interval=3) in {"m2", "m3"}
    assert stack.status()["m1"]["state"] != "running"
    stack.up()
    ready_swarm(stack, before)


def test_halt_then_up_gives_back_the_same_swarm(stack):
    before = ready_swarm(stack)
    stack.ok("halt", NAME, timeout=600)
    assert {row["state"] for row in stack.status().values()} == {"poweroff"}  # vagrant-libvirt's word
    assert not {f"{NAME}-{n}" for n in NODES} & running_domains()
    seconds = stack.up()
    print(f"\n{NAME}: `blackfish up` after halt returned after {seconds:.0f} s")
    ready_swarm(stack, before)


def test_destroy_leaves_no_domain_volume_or_network_of_the_stack(stack):
    plan = stack.plan()
    result = stack.destroy()
    assert result.returncode == 0, result.stderr
    assert resources.remains(plan) == []
    assert not {f"{NAME}-{n}" for n in NODES} & domains()
    assert not {names.admin_network(plan), names.management_network(plan)} & set(virsh("net-list", "--all", "--name").stdout.split())
    volumes = virsh("vol-list", resources.POOL).stdout
    assert not [line for line in volumes.splitlines() if line.split() and line.split()[0].startswith(f"{NAME}-")]
    assert (stack.home / NAME / "ca.pem").is_file()  # the PKI stays
