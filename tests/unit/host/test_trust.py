"""The trust stores' plans: what `certs install/uninstall` would run on each kind of host.

Hosts are built by hand (a directory tree as the filesystem root, a fake home, the tools found),
so every OS is covered here; tests/integration/test_trust_*.py run the real thing on Debian.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from blackfish import pki

from blackfish.host import trust
from blackfish.errors import BlackfishError, MissingToolError, UsageError
from blackfish.host import Command, Runner, write_file
from blackfish.state import StateDir
from blackfish.host.trust.docker import DockerStore
from blackfish.host.trust.nss import NssStore, find_dbs
from blackfish.host.trust.store import Target
from blackfish.host.trust.system import MacSystemStore, linux_flavor, system_store
from tests.conftest import assert_no_traceback, blackfish
from tests.support.hosts import fake_host
from tests.support.pki import make_stack, stack_yaml


@pytest.fixture
def ca(tmp_path) -> Path:
    state = StateDir("s", tmp_path / "bfhome")
    pki.ensure_pki(make_stack(), state)
    return state.file("ca.pem")


def shown(commands: list[Command], sudo: bool = True) -> list[str]:
    return [c.text(sudo) for c in commands]


@pytest.mark.parametrize("anchors, name, refresh", [
    ("/usr/local/share/ca-certificates", "blackfish-s.crt", "update-ca-certificates"),
    ("/etc/pki/ca-trust/source/anchors", "blackfish-s.pem", "update-ca-trust extract"),
    ("/etc/ca-certificates/trust-source/anchors", "blackfish-s.crt", "trust extract-compat"),
    ("/etc/pki/trust/anchors", "blackfish-s.pem", "update-ca-certificates"),
])
def test_each_linux_family_gets_its_anchor_file_and_refresh_through_sudo(tmp_path, ca, anchors, name, refresh):
    h = fake_host(tmp_path, tools=(refresh.split()[0],), dirs=(anchors,))
    store = system_store(Target("s", ca), h)
    assert store.unavailable() is None
    anchor = h.root / anchors.lstrip("/") / name
    assert shown(store.install()) == [f"sudo install -m 0644 {ca} {anchor}", f"sudo {refresh}"]
    assert shown(store.install(), sudo=False) == [f"install -m 0644 {ca} {anchor}", refresh]
    assert store.uninstall() == []  # nothing there yet

    anchor.write_bytes(ca.read_bytes())
    assert store.check() and store.install() == []
    assert shown(store.uninstall())[0] == f"sudo rm -f {anchor}"


def test_debian_uninstall_rebuilds_links_and_tells_the_hooks_the_ca_left(tmp_path, ca):
    h = fake_host(tmp_path, tools=("update-ca-certificates",),
             dirs=("/usr/local/share/ca-certificates", "/etc/ca-certificates/update.d"))
    hook = h.root / "etc/ca-certificates/update.d/jks-keystore"
    hook.write_text("#!/bin/sh\n")
    hook.chmod(0o755)
    anchor = h.root / "usr/local/share/ca-certificates/blackfish-s.crt"
    anchor.write_bytes(ca.read_bytes())
    assert shown(system_store(Target("s", ca), h).uninstall()) == [
        f"sudo rm -f {anchor}",
        "sudo update-ca-certificates --fresh",
        f"sudo {hook} <<'EOF'\n-/etc/ssl/certs/blackfish-s.pem\nEOF",
    ]


def test_a_changed_ca_is_reinstalled(tmp_path, ca):
    h = fake_host(tmp_path, tools=("update-ca-certificates",), dirs=("/usr/local/share/ca-certificates",))
    store = system_store(Target("s", ca), h)
    store.file.write_text("an older CA\n")
    assert not store.check()
    assert len(store.install()) == 2


def test_unknown_linux_and_missing_tools_are_explained(tmp_path, ca):
    bare = system_store(Target("s", ca), fake_host(tmp_path))
    assert bare.unavailable().startswith("no known system trust store on this machine (looked for /etc/pki/ca-trust")
    fedora = fake_host(tmp_path, dirs=("/etc/pki/ca-trust/source/anchors",))
    assert linux_flavor(fedora).name == "Fedora/RHEL"
    assert system_store(Target("s", ca), fedora).unavailable() == "update-ca-trust not found (install the ca-certificates package)"


def test_macos_uses_the_system_keychain(tmp_path, ca):
    store = system_store(Target("s", ca), fake_host(tmp_path, platform="darwin", tools=("security",)))
    assert isinstance(store, MacSystemStore)
    assert shown(store.install()) == [
        f"sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain {ca}"]


def test_nss_finds_chromium_and_every_firefox_profile(tmp_path, ca):
    h = fake_host(tmp_path, tools=("certutil",))
    new = h.home / ".mozilla/firefox/new.default"
    old = h.home / "snap/firefox/common/.mozilla/firefox/old.profile"
    empty = h.home / ".mozilla/firefox/Crash Reports"
    for d, db in ((new, "cert9.db"), (old, "cert8.db"), (empty, None)):
        d.mkdir(parents=True)
        if db:
            (d / db).touch()
    dbs = find_dbs(h)
    assert [(db.spec, db.exists) for db in dbs] == [
        (f"sql:{h.home}/.pki/nssdb", False),  # created on install: Chromium reads it
        (f"sql:{new}", True),
        (f"dbm:{old}", True),
    ]
    store = NssStore(Target("s", ca), h, dbs)
    assert store.unavailable() is None
    assert shown(store.install()) == [
        f"mkdir -p {h.home}/.pki/nssdb",
        f"certutil -N -d sql:{h.home}/.pki/nssdb --empty-password",
        f"certutil -A -d sql:{h.home}/.pki/nssdb -t C,, -n blackfish-s -i {ca}",
        f"certutil -A -d sql:{new} -t C,, -n blackfish-s -i {ca}",
        f"certutil -A -d dbm:{old} -t C,, -n blackfish-s -i {ca}",
    ]


def test_nss_on_macos_is_firefox_only_and_needs_certutil(tmp_path, ca):
    h = fake_host(tmp_path, platform="darwin")
    assert NssStore(Target("s", ca), h).unavailable() == "no browser NSS database found (no Firefox profile)"
    profile = h.home / "Library/Application Support/Firefox/Profiles/x.default"
    profile.mkdir(parents=True)
    (profile / "cert9.db").touch()
    assert NssStore(Target("s", ca), h).unavailable() == "certutil not found (install it: brew install nss)"


def test_docker_trusts_the_registry_by_service_name_and_node_ip(tmp_path, ca):
    stack = make_stack()
    target = trust.target_for(stack, StateDir("s", ca.parent.parent))
    assert target.registries == ("registry.service.s:5000", "10.241.0.11:5000")
    h = fake_host(tmp_path, tools=("docker",))
    store = DockerStore(target, h)
    certs_d = h.root / "etc/docker/certs.d"
    assert store.title == f"docker registries ({certs_d})"
    assert shown(store.install()) == [
        f"sudo mkdir -p {certs_d}/registry.service.s:5000",
        f"sudo install -m 0644 {ca} {certs_d}/registry.service.s:5000/blackfish-s.crt",
        f"sudo mkdir -p {certs_d}/10.241.0.11:5000",
        f"sudo install -m 0644 {ca} {certs_d}/10.241.0.11:5000/blackfish-s.crt",
    ]


def test_docker_uninstall_removes_only_our_files_and_the_directories_they_leave_empty(tmp_path, ca):
    h = fake_host(tmp_path, tools=("docker",))
    certs_d = h.root / "etc/docker/certs.d"
    for registry in ("registry.service.s:5000", "10.241.0.11:5000", "10.9.9.9:5000"):  # the last: an old address
        (certs_d / registry).mkdir(parents=True)
        (certs_d / registry / "blackfish-s.crt").write_bytes(ca.read_bytes())
    (certs_d / "10.241.0.11:5000" / "ca.crt").write_text("the user's\n")
    (certs_d / "10.241.0.11:5000" / "blackfish-other.crt").write_text("another stack's\n")
    store = DockerStore(Target("s", ca), h)  # no registries given: uninstall goes by name
    assert shown(store.uninstall()) == [
        f"sudo rm -f {certs_d}/10.241.0.11:5000/blackfish-s.crt",
        f"sudo rm -f {certs_d}/10.9.9.9:5000/blackfish-s.crt",
        f"sudo rmdir {certs_d}/10.9.9.9:5000",
        f"sudo rm -f {certs_d}/registry.service.s:5000/blackfish-s.crt",
        f"sudo rmdir {certs_d}/registry.service.s:5000",
    ]
    shutil.rmtree(certs_d / "10.241.0.11:5000")
    assert shown(store.uninstall())[-1] == f"sudo rmdir {certs_d}"  # certs.d itself when nothing else is left


def test_docker_desktop_on_macos_reads_the_users_certs_d_without_sudo(tmp_path, ca):
    h = fake_host(tmp_path, platform="darwin", tools=("docker",))
    store = DockerStore(Target("s", ca, ("registry.service.s:5000",)), h)
    assert shown(store.install()) == [
        f"mkdir -p {h.home}/.docker/certs.d/registry.service.s:5000",
        f"install -m 0644 {ca} {h.home}/.docker/certs.d/registry.service.s:5000/blackfish-s.crt",
    ]


def test_a_store_the_host_lacks_is_skipped_unless_asked_for_by_name(tmp_path, ca):
    lines = []
    h = fake_host(tmp_path)  # no trust anchors, no certutil, no docker
    trust.install(Target("s", ca, ("registry.service.s:5000",)), Runner(lines.append, dry_run=True), None, h)
    assert lines == [
        "# system trust store: skipped: no known system trust store on this machine (looked for "
        "/etc/pki/ca-trust/source/anchors, /usr/local/share/ca-certificates, "
        "/etc/ca-certificates/trust-source/anchors, /etc/pki/trust/anchors)",
        "# NSS databases of browsers (1): skipped: certutil not found (install it: apt install libnss3-tools "
        "(Debian/Ubuntu), dnf install nss-tools (Fedora/RHEL), pacman -S nss (Arch), zypper install mozilla-nss-tools (SUSE))",
        "# docker registries ({}): skipped: docker is not installed".format(h.root / "etc/docker/certs.d"),
    ]
    lines.clear()
    with pytest.raises(MissingToolError, match="^nss: certutil not found"):
        trust.install(Target("s", ca), Runner(lines.append, dry_run=True), ("system", "nss"), fake_host(tmp_path, dirs=(
            "/usr/local/share/ca-certificates",), tools=("update-ca-certificates",)))
    assert lines == []  # nothing ran, not even the store that was available


def test_only_names_stores():
    assert trust.parse_only(None) is None
    assert trust.parse_only("docker, system") == ("system", "docker")
    with pytest.raises(UsageError, match=r"^--only: unknown store 'browser' \(choose from system, nss, docker\)$"):
        trust.parse_only("system,browser")


@pytest.mark.parametrize("name", ["../etc", "*", "a/b", "", "UPPER"])
def test_a_stack_name_that_is_no_dns_label_is_refused(name):
    with pytest.raises(UsageError):
        Target(name, Path("ca.pem"))


def test_runner_prints_then_runs_and_reports_a_failure_with_its_output(tmp_path):
    lines = []
    runner = Runner(lines.append, is_root=True)
    runner.run([write_file(tmp_path / "f", "content\n", privileged=True)])
    assert (tmp_path / "f").read_text() == "content\n"
    assert lines == [f"tee {tmp_path / 'f'} <<'EOF'\ncontent\nEOF"]
    with pytest.raises(BlackfishError) as failed:
        runner.run([Command(("ls", str(tmp_path / "missing")))])
    assert failed.value.message == f"`ls {tmp_path / 'missing'}` failed (exit 2)"
    assert "No such file or directory" in failed.value.detail


def test_runner_dry_run_only_prints_and_adds_sudo_when_not_root(tmp_path):
    lines = []
    Runner(lines.append, dry_run=True, is_root=False).run([write_file(tmp_path / "f", "x\n", privileged=True),
                                                           Command(("true",))])
    assert lines == [f"sudo tee {tmp_path / 'f'} <<'EOF'\nx\nEOF", "true"]
    assert not (tmp_path / "f").exists()


def test_runner_without_sudo_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingToolError, match="needs root and sudo is not installed"):
        Runner(lambda line: None, is_root=False).run([Command(("true",), privileged=True)])


def test_cli_dry_run_prints_a_script_and_creates_nothing(bf_home, tmp_path):
    (tmp_path / "nodes.yml").write_text(stack_yaml())
    result = blackfish("certs", "install", "--dry-run", cwd=tmp_path)
    assert result.returncode == 0, result.err
    assert_no_traceback(result)
    lines = result.out.splitlines()
    assert lines[0] == f"# {bf_home}/s/ca.pem does not exist yet: install creates the stack's PKI first"
    # Each store either plans its commands or says why it is skipped on this machine.
    for title in ("system trust store", "NSS databases of browsers", "docker registries"):
        assert any(line.startswith(f"# {title}") and ("installing blackfish-s" in line or ": skipped: " in line)
                   for line in lines), (title, result.out)
    if "# docker registries (/etc/docker/certs.d): installing blackfish-s" in lines:
        assert f"install -m 0644 {bf_home}/s/ca.pem /etc/docker/certs.d/10.241.0.11:5000/blackfish-s.crt" in result.out
    assert not bf_home.exists()


def test_cli_bad_only_is_one_line_and_exit_2(bf_home, tmp_path):
    (tmp_path / "nodes.yml").write_text(stack_yaml())
    result = blackfish("certs", "uninstall", "--only", "firefox", cwd=tmp_path)
    assert result.returncode == 2
    assert result.err.splitlines() == [
        "blackfish: error: --only: unknown store 'firefox' (choose from system, nss, docker)"]
