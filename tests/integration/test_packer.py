"""packer/: the real `packer validate` (Debian's packer 1.6) and the real vagrant read the
template and the Vagrantfiles it uses; the template pulls exactly the pinned images."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from blackfish.model import box
from blackfish.model.images import PINNED
from tests.conftest import needs, needs_tool
from tests.support.packer import PACKER_DIR, RELEASE, TEMPLATE, isolated_env, packer, template_images

pytestmark = pytest.mark.integration

METADATA_URL = f"https://stable.release.flatcar-linux.net/amd64-usr/{RELEASE}/flatcar_production_vagrant.json"


def test_packer_validates_the_template(tmp_path):
    result = packer(tmp_path, "validate", "-var", f"version={RELEASE}", str(TEMPLATE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_old_packer_stops_only_at_the_required_plugins_block_in_the_directory(tmp_path):
    version = packer(tmp_path, "version").stdout
    needs(version.startswith("Packer v1.6."), f"this checks packer 1.6 (Debian's); found {version.strip()}")
    result = packer(tmp_path, "validate", "-var", f"version={RELEASE}", str(PACKER_DIR))
    assert result.returncode == 1
    assert result.stderr.count("Error: ") + result.stdout.count("Error: ") == 1, result.stdout + result.stderr
    assert 'Blocks of type "required_plugins" are not expected here' in result.stdout + result.stderr
    assert "plugins.pkr.hcl" in result.stdout + result.stderr


@pytest.mark.parametrize(("var", "message"), [
    ("version=current", "The version must be a Flatcar release number"),
    ("channel=edge", "The channel must be one of stable, beta, alpha"),
    ("provider=libvirt", "Flatcar publishes no Vagrant box for other providers"),
])
def test_packer_refuses_a_base_flatcar_cannot_supply(tmp_path, var, message):
    result = packer(tmp_path, "validate", "-var", f"version={RELEASE}", "-var", var, str(TEMPLATE))
    assert result.returncode == 1
    assert message in " ".join((result.stdout + result.stderr).split())


def test_the_template_pulls_exactly_the_pinned_images(tmp_path):
    pulled = template_images(tmp_path)
    assert len(pulled) == len(set(pulled))
    assert sorted(pulled) == sorted(box.image_refs(PINNED))


def test_the_template_pulls_another_image_list_when_given_one(tmp_path):
    other = tmp_path / "images.json"
    other.write_text(box.render({**PINNED, "consul": "registry.example/consul:9.9.9"}, "json"))
    pulled = template_images(tmp_path, "-var", f"images_file={other}")
    assert "registry.example/consul:9.9.9" in pulled
    assert PINNED["consul"] not in pulled


def vagrant_validate(tmp_path: Path, vagrantfile: str) -> subprocess.CompletedProcess:
    exe = needs_tool("vagrant")
    workdir = tmp_path / "vagrant-project"
    workdir.mkdir()
    (workdir / "Vagrantfile").write_text(vagrantfile)
    env = isolated_env(tmp_path / "home", VAGRANT_HOME=str(tmp_path / "vagrant.d"))
    return subprocess.run([exe, "validate", "--ignore-provider"], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=120)


def build_vagrantfile(metadata_url: str) -> str:
    """vagrant/build.Vagrantfile.tpl filled in the way packer's vagrant builder does."""
    text = (PACKER_DIR / "vagrant" / "build.Vagrantfile.tpl").read_text()
    return text.replace("{{.SourceBox}}", metadata_url).replace("{{.BoxName}}", "flatcar-stable")


def test_vagrant_reads_the_build_vagrantfile(tmp_path):
    result = vagrant_validate(tmp_path, build_vagrantfile(METADATA_URL))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_build_vagrantfile_refuses_metadata_without_a_release(tmp_path):
    result = vagrant_validate(tmp_path, build_vagrantfile(METADATA_URL.replace(RELEASE, "current")))
    assert result.returncode != 0
    assert "no Flatcar release number" in result.stdout + result.stderr


def test_vagrant_reads_the_vagrantfile_packaged_into_the_box(tmp_path):
    # As `vagrant package --vagrantfile` ships it: loaded from the box, before the stack's own.
    stack_vagrantfile = (
        f'load "{PACKER_DIR / "vagrant" / "box.Vagrantfile"}"\n'
        'Vagrant.configure("2") do |config|\n'
        '  config.vm.box = "blackfish"\n'
        '  config.vm.network "private_network", ip: "192.168.56.101"\n'
        "end\n"
        "cap = VagrantPlugins::GuestCoreOS::Cap::ConfigureNetworks\n"
        'puts "networks via #{File.basename(cap.method(:configure_networks).source_location[0])}"\n'
    )
    result = vagrant_validate(tmp_path, stack_vagrantfile)
    assert result.returncode == 0, result.stdout + result.stderr
    # Flatcar has no NetworkManager: the box routes Vagrant's networks through coreos-cloudinit.
    assert "networks via box.Vagrantfile" in result.stdout


def test_systemd_accepts_the_unit_that_seals_the_box_at_shutdown():
    exe = needs_tool("systemd-analyze", "systemd")
    unit = PACKER_DIR / "files" / "blackfish-box-seal.service"
    result = subprocess.run([exe, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.strip() == "", result.stderr
