"""The generated Vagrantfile: every node as planned, the stack's key and user-data, no secret."""

from __future__ import annotations

import re

import pytest

from blackfish.providers.vagrant.vagrantfile import render_vagrantfile, ruby_string
from blackfish.state import StateDir
from tests.support.vagrant import CONSUL_KEY, REGISTRY_SECRET, planned, render, write_nodes


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("vagrantfile")
    stack = planned(write_nodes(tmp_path))
    state = render(stack, tmp_path / "home")
    return stack, state, state.file("vagrant/Vagrantfile").read_text()


def machine_blocks(text: str) -> dict[str, str]:
    """The text of each `config.vm.define NAME ... end` block, by machine name."""
    return dict(re.findall(r"config\.vm\.define '([^']+)'.*?\n(.*?)\n  end\n", text, re.S))


def test_every_node_is_a_machine_with_its_ip_memory_cpus_and_box(rendered):
    stack, state, text = rendered
    blocks = machine_blocks(text)
    assert list(blocks) == ["vt-01", "vt-02", "edge"]
    for node in stack.nodes:
        block = blocks[node.name]
        assert f"node.vm.hostname = '{node.name}'" in block
        assert f"\"private_network\", ip: '{node.ip}', netmask: '255.255.255.0'" in block
        assert "node.vm.box = 'flatcar-stable'" in block
        assert "flatcar_production_vagrant.json'" in block
        for provider in ("vb", "prl", "lv", "hv"):
            assert f"{provider}.memory = {node.memory}" in block
            assert f"{provider}.cpus = {node.cpus}" in block
        assert f'vmw.vmx["memsize"] = "{node.memory}"' in block
    assert "vb.memory = 3072" in blocks["vt-02"] and "vb.cpus = 3" in blocks["vt-02"]


def test_the_guest_tools_checks_and_shared_folders_are_off(rendered):
    _, _, text = rendered
    assert 'config.vm.synced_folder ".", "/vagrant", disabled: true' in text
    assert text.count("vb.check_guest_additions = false") == 3
    assert text.count("vb.functional_vboxsf = false") == 3
    assert text.count("prl.check_guest_tools = false") == 3
    assert text.count("prl.functional_psf = false") == 3


def test_ssh_is_core_with_the_stacks_own_key(rendered):
    _, state, text = rendered
    assert 'config.ssh.username = "core"' in text
    assert "config.ssh.insert_key = false" in text
    assert f"config.ssh.private_key_path = ['{state.file('ssh/id_ed25519')}'," in text


def test_a_private_ssh_key_from_nodes_yml_comes_first(tmp_path):
    stack = planned(write_nodes(tmp_path, **{"provider: virtualbox": "provider: virtualbox\nprivate-ssh-key: keys/me"}))
    state = StateDir(stack.name, tmp_path / "home")
    text = render_vagrantfile(stack, state)
    assert f"private_key_path = ['{tmp_path / 'keys/me'}', '{state.file('ssh/id_ed25519')}', File.join(" in text


def test_each_node_uploads_its_own_user_data_to_the_flatcar_path(rendered):
    stack, state, text = rendered
    for node in stack.nodes:
        block = machine_blocks(text)[node.name]
        assert f"source: '{state.file(f'nodes/{node.name}.user-data')}', destination: \"/tmp/vagrantfile-user-data\"" in block
        assert "/var/lib/flatcar-vagrant/vagrantfile-user-data" in block
        assert "coreos-vagrant" not in block
    # Never a shared user-data next to the Vagrantfile: the box's own Vagrantfile would push it to every node.
    assert not state.file("vagrant/user-data").exists()


def test_runtime_rkt_boxes_read_the_coreos_vagrant_path(tmp_path):
    stack = planned(write_nodes(tmp_path, **{"provider: virtualbox": "provider: virtualbox\nruntime: rkt"}))
    text = render_vagrantfile(stack, StateDir(stack.name, tmp_path / "home"))
    assert text.count("/var/lib/coreos-vagrant/vagrantfile-user-data") == 3
    assert "flatcar-vagrant" not in text


def test_box_from_nodes_yml_replaces_the_flatcar_box_and_its_url(tmp_path):
    stack = planned(write_nodes(tmp_path, **{"provider: virtualbox": "provider: virtualbox\nbox: acme/blackfish"}))
    text = render_vagrantfile(stack, StateDir(stack.name, tmp_path / "home"))
    assert text.count("node.vm.box = 'acme/blackfish'") == 3
    assert "box_url" not in text


def test_no_secret_is_in_the_vagrantfile(rendered):
    _, state, text = rendered
    assert CONSUL_KEY not in text and REGISTRY_SECRET not in text
    assert "PRIVATE KEY" not in text
    secrets = [p for p in state.path.rglob("*") if p.is_file() and (p.name in ("key.pem", "ca-key.pem", "id_ed25519")
                                                                     or p.parent.name == "secrets")]
    assert any(p.name == "ca-key.pem" for p in secrets) and any(p.name == "id_ed25519" for p in secrets)
    for path in secrets:
        body = "".join(line for line in path.read_text().splitlines() if "-----" not in line)
        assert body[:40] not in text, path


def test_a_user_template_replaces_the_builtin_one(tmp_path):
    templates = tmp_path / "mine"
    templates.mkdir()
    (templates / "Vagrantfile.j2").write_text("# mine: {% for n in nodes %}{{ n.name }} {% endfor %}\n")
    stack = planned(write_nodes(tmp_path))
    assert render_vagrantfile(stack, StateDir(stack.name, tmp_path / "home"), templates).strip() == "# mine: vt-01 vt-02 edge"


def test_paths_are_ruby_literals_that_cannot_interpolate():
    assert ruby_string("/home/o'brien/#{x}\\") == "'/home/o\\'brien/#{x}\\\\'"


def test_an_odd_state_path_stays_one_ruby_string(tmp_path):
    stack = planned(write_nodes(tmp_path))
    home = tmp_path / "it's #{home}"
    text = render_vagrantfile(stack, StateDir(stack.name, home))
    assert f"private_key_path = ['{str(home)}".replace("'s", "\\'s") in text
