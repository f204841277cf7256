"""The Vagrant provider against the real vagrant binary (Debian's package).

No VM boots here: the machines have no VirtualBox. Where Vagrant must find VirtualBox usable
to answer at all, tests put a stand-in VBoxManage on PATH (`vboxmanage_stand_in`,
tests/support/vagrant.py) that only reports a version and fails every other call; everything
Vagrant does is real, up to its first real VirtualBox call.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from blackfish import record
from blackfish.state import StateDir
from tests.conftest import assert_no_traceback, blackfish, needs, needs_tool
from tests.support.vagrant import (
    CONSUL_KEY, REGISTRY_SECRET, vboxmanage_stand_in, planned, render, tiny_box, tree, vagrant_env, write_nodes,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def vhome(tmp_path, monkeypatch):
    """A private VAGRANT_HOME (boxes, machine index), for this process and the CLI it runs."""
    needs_tool("vagrant")
    home = tmp_path / "vagrant-home"
    monkeypatch.setenv("VAGRANT_HOME", str(home))
    monkeypatch.setenv("VAGRANT_CHECKPOINT_DISABLE", "1")
    return home


@pytest.fixture
def no_virtualbox():
    needs(not any(os.access(os.path.join(d, "VBoxManage"), os.X_OK) for d in os.environ["PATH"].split(os.pathsep)),
          "VirtualBox is installed here; these tests are about a machine without it")


def vagrant(args, workdir, **env):
    full = {**os.environ, "VAGRANT_CWD": str(workdir), **env}
    return subprocess.run(["vagrant", *args], cwd=workdir, env=full, capture_output=True, text=True, timeout=300)


def test_vagrant_validate_passes_on_the_generated_vagrantfile(vhome, tmp_path, bf_home, no_virtualbox):
    state = render(planned(write_nodes(tmp_path)), bf_home)
    workdir = state.file("vagrant")
    # Without a usable provider plain `vagrant validate` refuses to load any machine;
    # --ignore-provider validates everything but the provider blocks.
    result = vagrant(["validate", "--ignore-provider"], workdir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Vagrantfile validated successfully." in result.stdout
    # The file provisioner's source is checked: a missing user-data fails validation.
    state.file("nodes/edge.user-data").unlink()
    result = vagrant(["validate", "--ignore-provider"], workdir)
    assert result.returncode == 1
    assert f"{state.file('nodes/edge.user-data')}" in result.stdout + result.stderr


def test_vagrant_validate_checks_the_virtualbox_block_when_virtualbox_answers(vhome, tmp_path, bf_home):
    state = render(planned(write_nodes(tmp_path)), bf_home)
    workdir = state.file("vagrant")
    # The stand-in VBoxManage only answers --version: Vagrant then counts VirtualBox usable and
    # checks the virtualbox block's settings (pure Ruby config, no VBoxManage call).
    env = vagrant_env(vhome, vboxmanage_stand_in(tmp_path / "bin"), VAGRANT_DEFAULT_PROVIDER="virtualbox")
    result = vagrant(["validate"], workdir, **env)
    assert result.returncode == 0, result.stdout + result.stderr
    vagrantfile = state.file("vagrant/Vagrantfile")
    vagrantfile.write_text(vagrantfile.read_text().replace("vb.cpus = 3", "vb.cpuz = 3"))
    result = vagrant(["validate"], workdir, **env)
    assert result.returncode == 1 and "cpuz" in result.stdout + result.stderr


def test_the_vagrantfile_has_every_node_and_no_secret(vhome, tmp_path, bf_home):
    stack = planned(write_nodes(tmp_path))
    state = render(stack, bf_home)
    text = state.file("vagrant/Vagrantfile").read_text()
    for node in stack.nodes:
        assert f"config.vm.define '{node.name}'" in text
        assert f"ip: '{node.ip}'" in text
        assert f"vb.memory = {node.memory}" in text and f"vb.cpus = {node.cpus}" in text
    assert text.count("node.vm.box = 'flatcar-stable'") == len(stack.nodes)
    assert CONSUL_KEY not in text and REGISTRY_SECRET not in text
    for key in list(state.path.rglob("*key*.pem")) + [state.file("ssh/id_ed25519")]:
        for line in key.read_text().splitlines():
            if "-----" not in line:
                assert line not in text, key
    assert not state.file("vagrant/user-data").exists()


def test_status_lists_every_node_as_not_created_through_vagrant(vhome, tmp_path, bf_home):
    render(planned(write_nodes(tmp_path)), bf_home)
    elsewhere = tmp_path / "elsewhere"  # no nodes.yml here: the record says what the stack is
    elsewhere.mkdir()
    # With the stand-in VBoxManage (answers --version only) Vagrant answers `status` itself;
    # for a machine it has no id for, it calls no other VBoxManage command.
    env = vagrant_env(vhome, vboxmanage_stand_in(tmp_path / "bin"))
    result = blackfish("status", "vt", "--json", cwd=elsewhere, env=env)
    assert result.returncode == 0, result.err
    rows = json.loads(result.out)
    assert [(r["node"], r["ip"], r["state"], r["provider"]) for r in rows] == [
        ("vt-01", "192.168.56.11", "not_created", "virtualbox"),
        ("vt-02", "192.168.56.12", "not_created", "virtualbox"),
        ("edge", "192.168.56.13", "not_created", "virtualbox")]
    table = blackfish("status", "vt", cwd=elsewhere, env=env)
    assert table.returncode == 0
    assert table.out.split("\n")[0].split() == ["NODE", "GROUP", "IP", "ROLES", "STATE", "PROVIDER"]
    assert table.out.count("not_created") == 3


def test_status_without_virtualbox_still_knows_nothing_was_created(vhome, tmp_path, bf_home, no_virtualbox):
    state = render(planned(write_nodes(tmp_path)), bf_home)
    result = blackfish("status", "vt", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.err
    assert [r["state"] for r in json.loads(result.out)] == ["not_created"] * 3
    # A machine Vagrant has an id for cannot be asked about: its state is unknown, not invented.
    machine = state.file("vagrant/.vagrant/machines/vt-02/virtualbox")
    machine.mkdir(parents=True)
    (machine / "id").write_text("5f0e5bd2-0000-4000-8000-000000000000")
    rows = json.loads(blackfish("status", "vt", "--json", cwd=tmp_path).out)
    assert [(r["state"], r["provider"]) for r in rows] == [
        ("not_created", "virtualbox"), ("unknown", "virtualbox (not usable here)"), ("not_created", "virtualbox")]


def test_up_without_virtualbox_exits_3_and_writes_nothing(vhome, tmp_path, bf_home, no_virtualbox):
    write_nodes(tmp_path)
    result = blackfish("up", cwd=tmp_path)
    assert result.returncode == 3, result.err
    assert ("blackfish: error: the virtualbox provider is not usable on this machine: "
            "Vagrant could not detect VirtualBox!") in result.err
    assert "Install VirtualBox (https://www.virtualbox.org/wiki/Downloads)" in result.err
    assert "--provider docker" in result.err
    assert_no_traceback(result)
    assert not bf_home.exists()


def test_up_without_virtualbox_leaves_an_existing_state_unchanged(vhome, tmp_path, bf_home, no_virtualbox):
    render(planned(write_nodes(tmp_path)), bf_home)
    before = tree(bf_home)
    result = blackfish("up", "vt", "--parallel", "3", cwd=tmp_path)
    assert result.returncode == 3 and "not usable on this machine" in result.err
    assert_no_traceback(result)
    assert tree(bf_home) == before


def test_up_without_vagrant_says_what_to_install(tmp_path, bf_home):
    write_nodes(tmp_path)
    empty = tmp_path / "empty-path"
    empty.mkdir()
    result = blackfish("up", cwd=tmp_path, env={"PATH": str(empty)})
    assert result.returncode == 3
    assert "blackfish: error: Vagrant is not installed (no `vagrant` on PATH). Install Vagrant >= 2.3" in result.err
    assert_no_traceback(result)
    assert not bf_home.exists()


def test_up_refuses_host_only_addresses_virtualbox_would_reject(vhome, tmp_path, bf_home):
    needs(not os.path.exists("/etc/vbox/networks.conf"), "/etc/vbox/networks.conf widens VirtualBox's ranges here")
    # 198.51.100.0/24 is documentation space (RFC 5737): only written into nodes.yml, never configured.
    write_nodes(tmp_path, **{"192.168.56.": "198.51.100."})
    # The stand-in VBoxManage reports VirtualBox 7.0.14, a release that restricts host-only ranges.
    env = vagrant_env(vhome, vboxmanage_stand_in(tmp_path / "bin"))
    result = blackfish("up", cwd=tmp_path, env=env)
    assert result.returncode == 3, result.err
    assert ("VirtualBox allows host-only addresses only in 192.168.56.0/21 (the default: /etc/vbox/networks.conf "
            "does not exist); outside it: vt-01 (198.51.100.11), vt-02 (198.51.100.12), edge (198.51.100.13)") in result.err
    assert "`* 198.51.100.0/24` in /etc/vbox/networks.conf" in result.err
    assert_no_traceback(result)
    assert not bf_home.exists()


def test_a_box_that_cannot_be_downloaded_exits_3_and_writes_nothing(vhome, tmp_path, bf_home):
    write_nodes(tmp_path, **{"provider: virtualbox": "provider: virtualbox\nbox: blackfish-test/missing"})
    # The stand-in VBoxManage gets `up` past the provider check to the box; Vagrant's box
    # catalog at a closed loopback port makes the download fail at once, offline.
    env = vagrant_env(vhome, vboxmanage_stand_in(tmp_path / "bin"), VAGRANT_SERVER_URL="http://127.0.0.1:9")
    result = blackfish("up", cwd=tmp_path, env=env)
    assert result.returncode == 3, result.err
    assert "blackfish: error: could not download the box 'blackfish-test/missing' for virtualbox" in result.err
    assert "vagrant box add --provider virtualbox blackfish-test/missing" in result.err
    assert "127.0.0.1" in result.err  # vagrant's own words follow the message
    assert_no_traceback(result)
    assert not bf_home.exists()


def test_up_drives_vagrant_and_shows_its_log_when_it_fails(vhome, tmp_path, bf_home):
    write_nodes(tmp_path, **{"provider: virtualbox": "provider: virtualbox\nbox: blackfish-test/tiny"})
    # The stand-in VBoxManage answers --version only: the real vagrant runs `up` until its
    # first real VirtualBox call, which fails as on a broken install. No VM is booted; this
    # proves blackfish drives vagrant, logs it and reports its failure, not that a VM boots.
    bin_dir = vboxmanage_stand_in(tmp_path / "bin")
    env = vagrant_env(vhome, bin_dir)
    added = subprocess.run(["vagrant", "box", "add", "--provider", "virtualbox", "blackfish-test/tiny",
                            str(tiny_box(tmp_path / "tiny.box"))], env={**os.environ, **env}, capture_output=True, text=True)
    assert added.returncode == 0, added.stdout + added.stderr

    result = blackfish("up", "--parallel", "2", cwd=tmp_path, env=env)
    # The stand-in VirtualBox can do nothing: vagrant fails on the first machine, which boots alone.
    assert result.returncode == 1, result.err
    state = StateDir("vt", bf_home)
    log = state.file("vagrant/up.log")
    assert f"blackfish: error: boot failed on vt-01: `vagrant up vt-01` failed; vagrant's output is in {log}" in result.err
    assert "VBoxManage stand-in: no VirtualBox on this machine" in result.err
    # One line per node per step, up to the step that failed.
    lines = result.err.splitlines()
    assert "vt-01  render  user-data written" in lines
    assert f"vt-01  boot    failed: `vagrant up vt-01` failed; vagrant's output is in {log}" in lines
    assert "vt-02  boot    stopped (the step failed)" in lines
    assert not any(" ready " in line for line in lines)
    assert_no_traceback(result)
    text = log.read_text()
    assert "Bringing machine 'vt-01' up with 'virtualbox' provider..." in text
    assert "vt-02" not in text  # no other machine was started after the first failed
    assert record.booted(state).provider == "virtualbox"  # a failed boot is remembered
    assert state.file("nodes/vt-01.user-data").is_file() and state.file("ca.pem").is_file()

    status = blackfish("status", "--json", cwd=tmp_path, env=env)
    assert [r["state"] for r in json.loads(status.out)] == ["not_created"] * 3


def test_halt_and_destroy_of_a_stack_vagrant_never_created(vhome, tmp_path, bf_home, no_virtualbox):
    state = render(planned(write_nodes(tmp_path)), bf_home)
    assert blackfish("halt", "vt", cwd=tmp_path).returncode == 0
    refused = blackfish("destroy", "vt", cwd=tmp_path, input="n\n")
    assert refused.returncode == 1 and "Destroy the 3 node(s) of stack 'vt' on virtualbox" in refused.err
    assert state.file("vagrant/Vagrantfile").is_file()
    result = blackfish("destroy", "vt", "--yes", cwd=tmp_path)
    assert result.returncode == 0, result.err
    assert not state.file("vagrant").exists() and state.file("ca.pem").is_file()
    gone = blackfish("ssh", "vt", "vt-01", cwd=tmp_path)
    assert gone.returncode == 2
    assert "blackfish: error: stack 'vt' has no Vagrant machines; boot it with `blackfish up vt`" in gone.err
    assert_no_traceback(gone)
    result = blackfish("destroy", "vt", "--yes", "--purge", cwd=tmp_path)
    assert result.returncode == 0, result.err
    assert not state.path.exists()


def test_ssh_goes_through_vagrant_to_a_node_of_the_stack(vhome, tmp_path, bf_home, no_virtualbox):
    render(planned(write_nodes(tmp_path)), bf_home)
    unknown = blackfish("ssh", "vt", "nope", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "stack 'vt' has no node 'nope'; its nodes: vt-01, vt-02, edge" in unknown.err
    # vagrant itself answers, about the stack's machine (here: that it cannot reach VirtualBox).
    result = blackfish("ssh", "vt", "vt-01", "--", "true", cwd=tmp_path)
    assert result.returncode != 0
    said = " ".join((result.out + result.err).split())
    assert "The provider 'virtualbox' that was requested to back the machine 'vt-01'" in said


@pytest.mark.parametrize("vbox, needed", [("7.1.4r165100", "2.4.2"), ("7.2.0r170228", "2.4.9")])
def test_a_virtualbox_newer_than_vagrant_supports_asks_for_a_newer_vagrant(vhome, tmp_path, bf_home, vbox, needed):
    version = subprocess.run(["vagrant", "--version"], capture_output=True, text=True).stdout.split()[-1]
    needs(tuple(map(int, version.split(".")[:3])) < tuple(map(int, needed.split("."))),
          f"Vagrant {version} already supports VirtualBox {vbox[:3]}")
    write_nodes(tmp_path)
    result = blackfish("up", cwd=tmp_path, env=vagrant_env(vhome, vboxmanage_stand_in(tmp_path / "bin", vbox)))
    assert result.returncode == 3, result.err
    shown = vbox.split("r")[0]
    assert f"blackfish: error: Vagrant {version} supports VirtualBox up to 7.0, and VirtualBox {shown} is installed" in result.err
    assert f"Install Vagrant >= {needed} (https://developer.hashicorp.com/vagrant/install), or VirtualBox 7.0" in result.err
    assert "Install VirtualBox (" not in result.err  # VirtualBox is there: installing it fixes nothing
    assert_no_traceback(result)
    assert not bf_home.exists()


@pytest.mark.parametrize("provider", ["libvirt", "vmware_desktop", "hyperv"])
def test_a_provider_without_a_flatcar_box_needs_box(tmp_path, bf_home, provider):
    path = write_nodes(tmp_path, **{"provider: virtualbox": f"provider: {provider}"})
    result = blackfish("validate", "-f", str(path))
    assert result.returncode == 2, result.out + result.err
    assert (f"{path}:2:11: provider: provider {provider!r} needs `box:` naming a {provider} box: the default box, "
            "Flatcar's, is published for virtualbox and parallels only") in result.err
    assert_no_traceback(result)
    # The same when the provider comes from the command line.
    write_nodes(tmp_path)
    result = blackfish("up", "--provider", provider, cwd=tmp_path)
    assert result.returncode == 2, result.err
    assert f"blackfish: error: --provider {provider}: provider {provider!r} needs `box:`" in result.err
    assert not bf_home.exists()
