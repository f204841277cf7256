"""What `up` checks before it writes anything, and how vagrant's failures read to a user."""

from __future__ import annotations


import pytest

from blackfish.errors import EXIT_MISSING_TOOL, MissingToolError, ProviderError
from blackfish.providers.vagrant import provider as vp
from blackfish.providers.vagrant import preflight as pf
from tests.support.vagrant import planned, write_nodes


def test_vagrant_older_than_2_3_is_refused_with_what_to_install():
    assert pf.check_version("Vagrant 2.3.4\n") == (2, 3, 4)
    assert pf.check_version("Vagrant 2.4.0") == (2, 4, 0)
    with pytest.raises(MissingToolError) as err:
        pf.check_version("Vagrant 2.2.19")
    assert err.value.exit_code == EXIT_MISSING_TOOL
    assert "Vagrant 2.2.19 is too old: blackfish needs Vagrant >= 2.3" in err.value.message
    assert "developer.hashicorp.com/vagrant" in err.value.message


def test_virtualbox_host_only_ranges_default_to_192_168_56_0_21():
    assert [str(r) for r in pf.hostonly_ranges(None)] == ["192.168.56.0/21"]
    conf = "# site ranges\n* 10.0.0.0/8 192.168.0.0/16\n*2001::/64\nbogus 172.16.0.0/12\n"
    assert [str(r) for r in pf.hostonly_ranges(conf)] == ["10.0.0.0/8", "192.168.0.0/16", "2001::/64"]


def test_nodes_outside_the_allowed_range_are_named(tmp_path):
    inside = planned(write_nodes(tmp_path))
    assert pf.hostonly_problem(inside, None) is None
    outside = planned(write_nodes(tmp_path, **{"192.168.56.": "198.51.100."}))
    problem = pf.hostonly_problem(outside, None)
    assert problem.startswith("VirtualBox allows host-only addresses only in 192.168.56.0/21 "
                              "(the default: /etc/vbox/networks.conf does not exist)")
    assert "vt-01 (198.51.100.11), vt-02 (198.51.100.12), edge (198.51.100.13)" in problem
    assert pf.hostonly_problem(outside, "* 198.51.100.0/24\n") is None


def test_only_virtualbox_releases_that_restrict_are_checked():
    assert pf.vbox_restricts_hostonly((7, 0, 14), "linux")
    assert pf.vbox_restricts_hostonly((6, 1, 28), "linux")
    assert not pf.vbox_restricts_hostonly((6, 1, 26), "linux")
    assert pf.vbox_restricts_hostonly((6, 1, 30), "darwin")
    assert not pf.vbox_restricts_hostonly((7, 0, 2), "darwin")
    assert not pf.vbox_restricts_hostonly((7, 0, 14), "win32")


def test_machine_readable_errors_become_one_line_reasons():
    output = ("1795450788,,ui,error,whatever\n"
              "1795450788,,error-exit,Vagrant::Errors::ProviderNotUsable,The provider 'virtualbox' that was requested"
              " to back the machine\\n'n1' is reporting that it isn't usable on this system. The\\nreason is shown"
              " below:\\n\\nVagrant could not detect VirtualBox! Make sure VirtualBox is properly installed.\\nVagrant"
              " uses the `VBoxManage` binary that ships with VirtualBox%!(VAGRANT_COMMA) and requires\\nthis.\n")
    kind, message = pf.vagrant_error(output)
    assert kind == "ProviderNotUsable"
    assert pf.unusable_reason("virtualbox", kind, message) == (
        "Vagrant could not detect VirtualBox! Make sure VirtualBox is properly installed")
    assert pf.unusable_reason("libvirt", "ProviderNotFound", "...") == (
        "Vagrant has no 'libvirt' provider (its plugin is not installed)")
    assert pf.vagrant_error("1,,ui,info,fine\n") is None


@pytest.mark.parametrize("output, expected, exit_code", [
    ("The provider 'virtualbox' that was requested to back the machine\n'a' is reporting that it isn't usable on this system.",
     "the virtualbox provider is not usable on this machine", 3),
    ("An error occurred while downloading the remote file. The error\nmessage, if any, is reproduced below.",
     "could not download the box", 3),
    ("The IP address configured for the host-only network is not within the\nallowed ranges.",
     "VirtualBox refused the host-only network address", 3),
    ("Stderr: VBoxManage: error: Failed to import\n", "`vagrant up a` failed; vagrant's output is in /x/up.log", 1),
])
def test_a_failed_vagrant_command_says_what_to_do(output, expected, exit_code, tmp_path):
    from pathlib import Path

    error = vp.failure("virtualbox", output, "`vagrant up a`", Path("/x/up.log"))
    assert error.message.startswith(expected)
    assert error.exit_code == exit_code
    assert output.strip().splitlines()[-1] in error.detail
    assert isinstance(error, MissingToolError if exit_code == 3 else ProviderError)


def test_vagrant_runs_on_the_stacks_vagrantfile_whatever_the_users_environment(tmp_path):
    env = vp.vagrant_env(tmp_path / "vagrant", "libvirt", base={"VAGRANT_VAGRANTFILE": "Other", "HOME": "/h"})
    assert env == {"HOME": "/h", "VAGRANT_CWD": str(tmp_path / "vagrant"),
                   "VAGRANT_DOTFILE_PATH": str(tmp_path / "vagrant" / ".vagrant"),
                   "VAGRANT_DEFAULT_PROVIDER": "libvirt", "VAGRANT_CHECKPOINT_DISABLE": "1"}


def test_machines_vagrant_has_an_id_for_are_created(tmp_path):
    machines = tmp_path / ".vagrant" / "machines"
    for name, provider, content in (("a", "virtualbox", "uuid"), ("b", "virtualbox", ""), ("c", "libvirt", "x")):
        (machines / name / provider).mkdir(parents=True)
        (machines / name / provider / "id").write_text(content)
    (machines / "d" / "virtualbox").mkdir(parents=True)
    assert vp.machines_created(tmp_path, "virtualbox") == ["a"]
