"""Seconds from `blackfish up` to a ready 3-node swarm on libvirt, against the floor of one
bare `vagrant up` of the same box, measured in the same run.

The VMs run under the driver blackfish chooses (providers/libvirt/driver.py): `qemu`, software
emulation (TCG), where KVM guests cannot run. "Ready" is `blackfish STACK node ls` showing
every node Ready (polled after `up` returns, so a `up` that returns early still counts to the
swarm). The floor is one VM of the blackfish libvirt test box booted by plain Vagrant to SSH,
with no user-data. Needs root, libvirt and the box (tests/support/libvirt.py builds it);
run it under the shared lock: flock /tmp/blackfish-docker.lock python bench/run.py libvirt
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

NAME = "bfbenchvm"
NODES = ("b1", "b2", "b3")
def _bare_vagrant_up(box: str, driver: str, mgmt: str) -> float:
    from tests.support.libvirt import Scope, vagrant, vagrantfile

    with tempfile.TemporaryDirectory(prefix="bench-bare-") as tmp, Scope("bfbenchbare") as scope:
        project = Path(tmp)
        (project / "Vagrantfile").write_text(vagrantfile(box, scope.prefix, mgmt, node="bare", memory=1024,
                                                         driver=driver))
        try:
            started = time.perf_counter()
            proc = vagrant("up", cwd=project)
            seconds = time.perf_counter() - started
            if proc.returncode != 0:
                raise RuntimeError(f"bare vagrant up failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        finally:
            vagrant("destroy", "-f", cwd=project)
    return seconds


def _blackfish_up(box: str) -> tuple[float, float, str]:
    """(seconds until `up` returned, seconds until every node is Ready, the driver libvirt ran)."""
    from tests.support.vmstack import VmStack, nodes_yml

    with tempfile.TemporaryDirectory(prefix="bench-libvirt-") as tmp:
        stack = VmStack(NAME, Path(tmp), nodes_yml(NAME, box, NODES))
        stack.remove_leftovers()
        try:
            started = time.perf_counter()
            stack.ok("up", NAME, "--parallel", "2", timeout=1800)
            returned = time.perf_counter() - started
            while True:
                listed = stack.cli(NAME, "node", "ls", "--format", "{{.Status}}")
                if listed.returncode == 0 and listed.stdout.split() == ["Ready"] * len(NODES):
                    break
                if time.perf_counter() - started > 1800:
                    raise RuntimeError(f"not every node Ready 30 min after up: {listed.stdout}{listed.stderr}")
                time.sleep(2)
            ready = time.perf_counter() - started
            drivers = {row["driver"] for row in stack.status().values()}
        finally:
            stack.destroy()
            stack.remove_leftovers()
    return returned, ready, ",".join(sorted(drivers))


def run() -> list[dict]:
    from blackfish.providers.libvirt import driver
    from tests.support.libvirt import ensure_box, free_subnets, needs_libvirt

    import pytest

    try:
        needs_libvirt()  # starts libvirt when it can; pytest's skip says why it cannot
    except (pytest.skip.Exception, pytest.fail.Exception) as exc:
        raise RuntimeError(str(exc)) from None
    box = ensure_box().name
    bare = _bare_vagrant_up(box, driver.detect(), free_subnets(1)[0])
    returned, ready, ran = _blackfish_up(box)
    note = f"driver {ran} ({'TCG, software emulation' if ran == 'qemu' else 'KVM'}), --parallel 2, 1 vCPU 1 GiB each"
    return [
        {"benchmark": "libvirt", "case": "blackfish up -> 3 nodes Ready", "value": ready, "unit": "s", "note": note},
        {"benchmark": "libvirt", "case": "blackfish up returned", "value": returned, "unit": "s"},
        {"benchmark": "libvirt", "case": "bare vagrant up, 1 VM (floor)", "value": bare, "unit": "s",
         "note": f"same box {box}, driver {driver.detect()}, no user-data"},
        {"benchmark": "libvirt", "case": "ratio up->Ready / bare vagrant up", "value": ready / bare, "unit": "x"},
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
