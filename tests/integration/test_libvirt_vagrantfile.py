"""The generated Vagrantfile's libvirt block, judged by the real vagrant and vagrant-libvirt,
and what `blackfish up` refuses for libvirt before it writes anything. No VM boots here
(tests/vm/ boots them)."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import assert_no_traceback, blackfish, needs, needs_tool
from tests.support.vagrant import planned, render, write_nodes

pytestmark = pytest.mark.integration

LIBVIRT = {"provider: virtualbox": "provider: libvirt\nbox: blackfish-test/absent"}


def vagrant_libvirt_installed(env: dict) -> bool:
    listed = subprocess.run(["vagrant", "plugin", "list"], capture_output=True, text=True, env=env, timeout=120)
    return "vagrant-libvirt" in listed.stdout


@pytest.fixture
def env(tmp_path):
    needs_tool("vagrant")
    env = {**os.environ, "VAGRANT_HOME": str(tmp_path / "vagrant-home"), "VAGRANT_CHECKPOINT_DISABLE": "1",
           "VAGRANT_DEFAULT_PROVIDER": "libvirt"}
    needs(vagrant_libvirt_installed(env), "Vagrant's libvirt provider is missing (apt-get install vagrant-libvirt)")
    return env


@pytest.mark.parametrize("driver", ["qemu", "kvm"])
def test_vagrant_libvirt_accepts_the_libvirt_block(env, tmp_path, bf_home, driver):
    stack = planned(write_nodes(tmp_path, **{"provider: virtualbox": f"{LIBVIRT['provider: virtualbox']}\n"
                                                                        f"libvirt: {{driver: {driver}}}"}))
    workdir = render(stack, bf_home).file("vagrant")
    # Plain validate: vagrant-libvirt finalizes and checks its own block (driver, networks, names).
    result = subprocess.run(["vagrant", "validate"], cwd=workdir, env={**env, "VAGRANT_CWD": str(workdir)},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Vagrantfile validated successfully." in result.stdout


def test_up_refuses_the_address_libvirt_gives_this_host(tmp_path, bf_home):
    write_nodes(tmp_path, **LIBVIRT, **{"192.168.56.11": "192.168.56.1"})
    result = blackfish("up", cwd=tmp_path)
    assert result.returncode == 2, result.err
    assert ("blackfish: error: node vt-01 has the address 192.168.56.1, which libvirt gives this host on the "
            "admin network; choose another ip in nodes.yml") in result.err
    assert_no_traceback(result)
    assert not bf_home.exists()
