"""`blackfish dns`: the configuration it writes for each resolver, and how it picks one."""

from __future__ import annotations

import pytest

from blackfish.host import dns
from blackfish.errors import MissingToolError
from blackfish.host import Runner
from tests.conftest import assert_no_traceback, blackfish
from tests.support.hosts import fake_host
from tests.support.pki import make_stack, stack_yaml

SERVERS = ["10.241.0.11", "10.241.0.12", "10.241.0.13"]


def printed(commands) -> str:
    lines = []
    Runner(lines.append, dry_run=True, is_root=False).run(commands)
    return "\n".join(lines) + "\n"


def test_the_dns_servers_are_the_consul_servers_on_port_8600():
    stack = make_stack(ips=("10.241.0.11", "10.241.0.12", "10.241.0.13", "10.241.0.14"))
    assert [n.name for n in stack.consul_servers] == ["s-01", "s-02", "s-03"]
    assert dns.consul_dns_servers(stack) == SERVERS


def test_systemd_resolved_gets_per_link_servers_and_a_routing_domain():
    assert printed(dns.resolved_commands("s", {"br-s": SERVERS})) == (
        "sudo resolvectl dns br-s 10.241.0.11:8600 10.241.0.12:8600 10.241.0.13:8600\n"
        "sudo resolvectl domain br-s '~s'\n"
        "sudo resolvectl default-route br-s false\n"
        "sudo resolvectl dnssec br-s no\n"
    )
    assert printed(dns.resolved_remove_commands(["br-s"])) == "sudo resolvectl revert br-s\n"


def test_macos_resolver_file():
    assert dns.mac_resolver_file("vagrant", ["192.168.56.101", "192.168.56.102"]) == (
        "# blackfish: *.vagrant through the consul DNS of stack vagrant\n"
        "nameserver 192.168.56.101\n"
        "nameserver 192.168.56.102\n"
        "port 8600\n"
    )


def test_networkmanager_dnsmasq_snippet():
    assert dns.dnsmasq_conf("vagrant", ["192.168.56.101"]) == (
        "# blackfish: *.vagrant through the consul DNS of stack vagrant\n"
        "server=/vagrant/192.168.56.101#8600\n"
    )


def test_networkmanager_is_used_when_it_runs_dnsmasq(tmp_path):
    files = {"/etc/NetworkManager/NetworkManager.conf": "[main]\nplugins=ifupdown\ndns=default\n",
             "/etc/NetworkManager/conf.d/00-use-dnsmasq.conf": "[main]\ndns=dnsmasq\n"}
    host = fake_host(tmp_path, tools=("resolvectl",), dirs=("/run/NetworkManager", "/run/systemd/resolve"), files=files)
    assert dns.nm_dns_mode(host) == "dnsmasq"
    assert dns.detect_method(host) == "networkmanager"
    conf = host.root / "etc/NetworkManager/dnsmasq.d/blackfish-s.conf"
    plan = dns.plan(make_stack(), host)
    assert printed(plan.commands) == (
        f"sudo tee {conf} <<'EOF'\n{dns.dnsmasq_conf('s', SERVERS)}EOF\n"
        "sudo nmcli general reload dns-full\n"
    )
    assert dns.plan(make_stack(), host, remove=True).commands == []
    conf.parent.mkdir(parents=True)
    conf.write_text(dns.dnsmasq_conf("s", SERVERS))
    assert printed(dns.plan(make_stack(), host, remove=True).commands) == (
        f"sudo rm -f {conf}\nsudo nmcli general reload dns-full\n")


def test_resolved_is_used_when_networkmanager_does_not_run_dnsmasq(tmp_path):
    files = {"/etc/NetworkManager/NetworkManager.conf": "[main]\ndns=systemd-resolved\n"}
    host = fake_host(tmp_path, tools=("resolvectl",), dirs=("/run/NetworkManager", "/run/systemd/resolve"), files=files)
    assert dns.detect_method(host) == "resolved"
    plan = dns.plan(make_stack(), host, link="vboxnet0")
    assert printed(plan.commands).startswith("sudo resolvectl dns vboxnet0 10.241.0.11:8600 ")
    assert plan.note == "lasts until vboxnet0 goes down; run `blackfish dns s` again after that"


def test_macos_writes_etc_resolver(tmp_path):
    host = fake_host(tmp_path, platform="darwin")
    assert dns.detect_method(host) == "macos"
    resolver = host.root / "etc/resolver"
    assert printed(dns.plan(make_stack(), host).commands) == (
        f"sudo mkdir -p {resolver}\n"
        f"sudo tee {resolver}/s <<'EOF'\n{dns.mac_resolver_file('s', SERVERS)}EOF\n"
    )


def test_a_host_with_no_known_resolver_gets_the_lines_to_add_itself(tmp_path):
    with pytest.raises(MissingToolError) as missing:
        dns.plan(make_stack(), fake_host(tmp_path))
    assert "found no resolver blackfish can configure" in missing.value.message
    assert missing.value.detail == dns.dnsmasq_conf("s", SERVERS)


def test_a_group_without_consul_servers_asks_the_servers_of_the_stacks_other_groups(tmp_path):
    from blackfish.model import config
    from blackfish.model.stack import plan

    control = plan(config.parse(stack_yaml(ips=("10.241.0.11",)), "control.yml", tmp_path / "control.yml").config,
                   source=tmp_path / "control.yml")
    workers_yml = "stack: s\nprovider: docker\nadmin-network: 10.241.0.0/24\nnodes:\n  - name: w1\n    ip: 10.241.0.21\n    roles: []\n"
    from blackfish.groups import context_of

    loaded = config.parse(workers_yml, "workers.yml", tmp_path / "workers.yml",
                          context_for=lambda c, path: context_of(control, "workers"))
    workers = plan(loaded.config, source=tmp_path / "workers.yml", recorded=control)
    assert [n.group for n in workers.nodes] == ["control", "workers"]
    assert dns.consul_dns_servers(workers) == ["10.241.0.11"]


def test_cli_dry_run_for_macos_and_resolved(bf_home, tmp_path):
    (tmp_path / "nodes.yml").write_text(stack_yaml())
    mac = blackfish("dns", "s", "--dry-run", "--via", "macos", cwd=tmp_path)
    assert mac.returncode == 0, mac.err
    assert_no_traceback(mac)
    sudo = "" if mac.out.splitlines()[1].startswith("mkdir") else "sudo "
    assert mac.out == (
        "# macos: routing *.s to consul DNS\n"
        f"{sudo}mkdir -p /etc/resolver\n"
        f"{sudo}tee /etc/resolver/s <<'EOF'\n" + dns.mac_resolver_file("s", SERVERS) + "EOF\n"
    )
    resolved = blackfish("dns", "s", "--dry-run", "--via", "resolved", "--link", "br-s", cwd=tmp_path)
    assert resolved.returncode == 0, resolved.err
    assert f"{sudo}resolvectl domain br-s '~s'\n" in resolved.out
    assert not bf_home.exists()


def test_cli_rejects_an_unknown_method(bf_home, tmp_path):
    (tmp_path / "nodes.yml").write_text(stack_yaml())
    result = blackfish("dns", "s", "--via", "hosts-file", cwd=tmp_path)
    assert result.returncode == 2
    assert "Invalid value for '--via'" in result.err
