"""The rendered user-data: a #cloud-config that coreos-cloudinit reads as written, per node role."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from blackfish.render import cloudinit
from blackfish.errors import UsageError
from blackfish.render.templates_dir import builtin_templates
from tests.support.rendered import files, parse_env_file, render_yaml, units, user_data

# Every key Flatcar's coreos-cloudinit reads; anything else it ignores without a word.
# https://github.com/flatcar/coreos-cloudinit/blob/main/config/config.go (CloudConfig, CoreOS),
# config/file.go (File), config/unit.go (Unit, UnitDropIn), config/user.go (User).
CLOUDINIT_KEYS = {
    "": {"ssh_authorized_keys", "coreos", "write_files", "hostname", "users", "manage_etc_hosts"},
    "coreos": {"etcd", "etcd2", "flannel", "fleet", "locksmith", "oem", "update", "units"},
    "write_files[]": {"encoding", "content", "owner", "path", "permissions"},
    "coreos.units[]": {"name", "mask", "enable", "runtime", "content", "command", "drop_ins"},
    "coreos.units[].drop_ins[]": {"name", "content"},
}
UNIT_COMMANDS = {"start", "stop", "restart", "reload", "try-restart", "reload-or-restart", "reload-or-try-restart"}

FULL = """
    stack: lab
    dc: west
    provider: docker
    admin-network: 10.242.0.0/24
    labels: {env: test}
    journald-sink: logs.example.net:5140
    influxdb-url: http://metrics.example.net:8086
    ssh-key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl user@example
    nodes:
      - ip: 10.242.0.11
        docker-registry: true
      - ip: 10.242.0.12
        lb: true
      - ip: 10.242.0.13
      - ip: 10.242.0.14
        labels: {rack: r2, ssd: true}
"""


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    return render_yaml(FULL, tmp_path_factory.mktemp("full"))


def walk_keys(value, where: str = ""):
    """(place, key) for every mapping key, places named like CLOUDINIT_KEYS'."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield where, key
            yield from walk_keys(item, f"{where}.{key}" if where else key)
    elif isinstance(value, list):
        for item in value:
            yield from walk_keys(item, where + "[]")


def test_every_user_data_is_a_cloud_config_with_only_coreos_cloudinit_keys(full):
    _, _, nodes = full
    for node in nodes:
        text = node.path.read_text()
        assert text.startswith("#cloud-config\n")
        doc = yaml.safe_load(text)
        for where, key in walk_keys(doc):
            if where in CLOUDINIT_KEYS:
                assert key in CLOUDINIT_KEYS[where], f"{node.node.name}: {where}: {key!r} is not read by coreos-cloudinit"
            else:
                assert where.startswith(("ssh_authorized_keys", "write_files[].", "coreos.units[].")), where
        assert "runcmd" not in doc and "drop-ins" not in text
        # The applier of the docker provider accepts it too (it rejects anything outside the subset).
        cloudinit.parse(text, str(node.path))


def test_values_have_the_types_coreos_cloudinit_decodes(full):
    for node in full[2]:
        doc = user_data(node)
        assert doc["hostname"] == node.node.name
        for entry in doc["write_files"]:
            # A YAML integer like 0600 would be read as 384 by some decoders: always a quoted string.
            assert isinstance(entry["permissions"], str) and re.fullmatch(r"0[0-7]{3}", entry["permissions"])
            assert entry["path"].startswith("/") and isinstance(entry["content"], str)
        for unit in doc["coreos"]["units"]:
            assert unit.get("command", "start") in UNIT_COMMANDS
            assert isinstance(unit.get("enable", False), bool)
            for drop_in in unit.get("drop_ins", []):
                assert drop_in["name"].endswith(".conf")


def test_the_engine_restarts_in_one_job_that_brings_up_its_enabled_tls_socket(full):
    doc = user_data(full[2][0])
    commands = [(u["name"], u.get("command"), u.get("enable", False)) for u in doc["coreos"]["units"]]
    assert commands[:2] == [("docker-tls-tcp.socket", None, True), ("docker.service", "restart", False)]
    socket = units(doc)["docker-tls-tcp.socket"]
    assert "ListenStream=10.242.0.11:2376\n" in socket and "Service=docker.service\n" in socket
    drop_in = doc["coreos"]["units"][1]["drop_ins"][0]
    # The restart pulls the socket in (Wants=) and starts it before the engine (After=).
    assert drop_in["name"] == "10-blackfish.conf" and "Wants=docker-tls-tcp.socket\nAfter=docker-tls-tcp.socket" in drop_in["content"]


def test_daemon_json_has_tls_and_labels_and_never_hosts(full):
    stack, _, nodes = full
    daemon = json.loads(files(user_data(nodes[3]))["/etc/docker/daemon.json"])
    assert "hosts" not in daemon
    assert daemon["tlsverify"] is True
    assert (daemon["tlscacert"], daemon["tlscert"], daemon["tlskey"]) == (
        "/etc/docker/tls/clients-ca.pem", "/etc/docker/tls/cert.pem", "/etc/docker/tls/key.pem")
    assert daemon["labels"] == ["io.blackfish.stack=lab", "io.blackfish.dc=west", "io.blackfish.node=lab-04",
                                "env=test", "rack=r2", "ssd=true"]
    assert daemon["log-driver"] == "json-file" and daemon["log-opts"]["max-size"]


def test_the_node_gets_the_ca_its_own_certificate_and_key(full):
    _, state, nodes = full
    written = files(user_data(nodes[1]))
    assert written["/etc/docker/tls/ca.pem"] == (state.path / "ca.pem").read_text()
    assert written["/etc/docker/tls/cert.pem"] == (state.path / "nodes/lab-02.cert.pem").read_text()
    assert written["/etc/docker/tls/key.pem"] == (state.path / "nodes/lab-02.key.pem").read_text()
    assert written["/etc/docker/tls/clients-ca.pem"] == (state.path / "clients-ca.pem").read_text()
    # lab-02 is a manager: its engine-client pair reaches other engines and pushes to the registry.
    assert written["/etc/docker/tls/client-key.pem"] == (state.path / "nodes/lab-02.client-key.pem").read_text()
    certs = "/etc/docker/certs.d/registry.service.lab:5000"
    assert written[f"{certs}/ca.crt"] == written["/etc/docker/tls/ca.pem"]
    assert written[f"{certs}/client.key"] == written["/etc/docker/tls/client-key.pem"]
    modes = {f["path"]: f["permissions"] for f in user_data(nodes[1])["write_files"]}
    assert modes["/etc/docker/tls/key.pem"] == modes[f"{certs}/client.key"] == modes["/etc/docker/tls/client-key.pem"] == "0600"
    # lab-04 is a worker: no engine-client pair; it pulls with its node certificate.
    worker = files(user_data(nodes[3]))
    assert "/etc/docker/tls/client-key.pem" not in worker
    assert worker[f"{certs}/client.key"] == (state.path / "nodes/lab-04.key.pem").read_text()
    assert modes["/etc/blackfish/consul/consul.hcl"] == "0600"  # holds the gossip key


PEM_KEY = re.compile(r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?-----END \1PRIVATE KEY-----\n", re.S)


def test_no_private_key_but_the_nodes_own_and_never_the_ca_key(full):
    _, state, nodes = full
    ca_key = (state.path / "ca-key.pem").read_text()
    others = {(state.path / f"nodes/{n.node.name}.key.pem").read_text() for n in nodes}
    client_key = (state.path / "key.pem").read_text()
    ssh_private = (state.path / "ssh/id_ed25519").read_text()
    for node in nodes:
        text = node.path.read_text()
        own = (state.path / f"nodes/{node.node.name}.key.pem").read_text()
        client = state.path / f"nodes/{node.node.name}.client-key.pem"
        doc = user_data(node)
        contents = "\n".join([*files(doc).values(), *units(doc).values()])
        keys = [m.group(0) for m in PEM_KEY.finditer(contents)]
        assert keys and set(keys) == {own} | ({client.read_text()} if node.node.is_manager else set())
        assert text.count("PRIVATE KEY-----") == 2 * len(keys)  # nothing hidden outside the contents
        assert ca_key.strip() not in text and client_key.strip() not in text
        assert ssh_private.strip().splitlines()[1] not in text
        for other in others - {own}:
            assert other.strip().splitlines()[1] not in text


def test_ssh_keys_are_the_stacks_and_the_users(full):
    _, state, nodes = full
    keys = user_data(nodes[0])["ssh_authorized_keys"]
    assert keys == [(state.path / "ssh/id_ed25519.pub").read_text().strip(),
                    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl user@example"]


def test_services_follow_roles_and_stack_settings(full):
    _, _, nodes = full
    by_name = {n.node.name: n for n in nodes}
    always = ["docker", "swarm", "consul", "registrator"]
    extras = ["journald-forward", "telegraf"]
    assert by_name["lab-01"].services == always + ["registry"] + extras
    assert by_name["lab-02"].services == always + ["haproxy", "consul-template"] + extras
    assert by_name["lab-04"].services == always + extras
    registry_units = units(user_data(by_name["lab-01"]))
    assert "blackfish-registry.service" in registry_units
    assert "blackfish-registry.service" not in units(user_data(by_name["lab-04"]))
    lb_units = units(user_data(by_name["lab-02"]))
    assert {"blackfish-haproxy.service", "blackfish-consul-template.service", "blackfish-haproxy-reload.service"} <= set(lb_units)
    assert by_name["lab-01"].images == {s: full[0].images[s] for s in ("consul", "registrator", "registry", "telegraf")}


def test_system_services_are_host_network_containers_that_never_block_startup(full):
    stack, _, nodes = full
    for name, content in units(user_data(nodes[1])).items():
        if "docker run" not in content:
            continue
        assert f"--rm --name {name.removesuffix('.service')} --net=host" in content
        # A pull that cannot happen must not hold up cloud-init: no pull before the service starts.
        assert "pull" not in content and "Type=oneshot" not in content
        assert "Restart=always" in content
    consul = units(user_data(nodes[1]))["blackfish-consul.service"]
    assert stack.images["consul"] in consul


def test_no_unit_cloud_init_starts_waits_for_a_system_service_to_come_back(full):
    """A system service whose image cannot be pulled yet fails and waits RestartSec before its
    next try; a unit ordered after it (After=) would hold `systemctl start` -- and cloud-init
    with it -- for those seconds. Units that need such a service retry on their own instead."""
    _, _, nodes = full
    for node in nodes:
        doc = user_data(node)
        rendered = units(doc)
        services = {name for name, content in rendered.items() if "docker run" in content}
        for unit in doc["coreos"]["units"]:
            if unit.get("command") != "start" or unit["name"] not in rendered:
                continue
            after = {word for line in rendered[unit["name"]].splitlines() if line.startswith("After=")
                     for word in line.removeprefix("After=").split()}
            assert not after & services, f"{node.node.name}: {unit['name']} waits for {after & services}"


def test_the_swarm_unit_and_its_settings(full):
    _, _, nodes = full
    doc = user_data(nodes[3])
    env = parse_env_file(files(doc)["/etc/blackfish/swarm.env"])
    assert env == {"NODE_NAME": "lab-04", "NODE_IP": "10.242.0.14", "ROLE": "worker", "FIRST_MANAGER": "10.242.0.11",
                   "MANAGERS": "10.242.0.11 10.242.0.12 10.242.0.13",
                   "NODE_LABELS": "io.blackfish.stack=lab io.blackfish.dc=west io.blackfish.node=lab-04 env=test rack=r2 ssd=true"}
    assert parse_env_file(files(user_data(nodes[0]))["/etc/blackfish/swarm.env"])["ROLE"] == "manager"
    unit = units(doc)["blackfish-swarm.service"]
    assert "EnvironmentFile=/etc/blackfish/swarm.env" in unit and "ExecStart=/opt/blackfish/bin/swarm-bootstrap" in unit
    assert "consul" not in unit
    script = files(doc)["/opt/blackfish/bin/swarm-bootstrap"]
    assert script == (builtin_templates() / "files/swarm-bootstrap").read_text()


def test_consul_configuration(full):
    _, _, nodes = full
    server = files(user_data(nodes[0]))["/etc/blackfish/consul/consul.hcl"]
    agent = files(user_data(nodes[3]))["/etc/blackfish/consul/consul.hcl"]
    assert "server           = true" in server and "bootstrap_expect = 3" in server and "ui_config" in server
    assert "server           = true" not in agent and "bootstrap_expect" not in agent and "ui_config" not in agent
    for hcl in (server, agent):
        assert 'retry_join     = ["10.242.0.11", "10.242.0.12", "10.242.0.13"]' in hcl
        assert 'domain         = "lab"' in hcl and 'datacenter     = "west"' in hcl
        assert re.search(r'encrypt\s+= "[A-Za-z0-9+/]{43}="', hcl)
        assert "verify_incoming = true" in hcl and "verify_outgoing = true" in hcl
        assert "verify_server_hostname = true" in hcl and "https = 8501" in hcl and "dns   = 8600" in hcl


def test_the_registry_configuration(full):
    _, state, nodes = full
    config = yaml.safe_load(files(user_data(nodes[0]))["/etc/blackfish/registry/config.yml"])
    assert config["http"]["secret"] == (state.path / "secrets/registry-secret").read_text().strip()
    # TLS and who may push are the front's (tests/integration/test_render_services.py); the registry is loopback only.
    assert config["http"]["addr"] == "127.0.0.1:5001" and "tls" not in config["http"]
    assert config["storage"]["filesystem"] == {"rootdirectory": "/var/lib/registry"}
    registry = units(user_data(nodes[0]))["blackfish-registry.service"]
    assert "--label SERVICE_NAME=registry" in registry and "/etc/distribution/config.yml:ro" in registry
    assert "192.168.0.0" not in files(user_data(nodes[2]))["/etc/blackfish/hosts"]
    assert "10.242.0.11 registry.service.lab" in files(user_data(nodes[2]))["/etc/blackfish/hosts"]


def test_optional_services_carry_their_settings(full):
    doc = user_data(full[2][2])
    assert "Environment=JOURNALD_SINK=logs.example.net:5140" in units(doc)["blackfish-journald-forward.service"]
    assert 'urls = ["http://metrics.example.net:8086"]' in files(doc)["/etc/blackfish/telegraf/telegraf.conf"]


def test_secrets_are_generated_once_and_kept(tmp_path):
    _, state, nodes = render_yaml(MINIMAL, tmp_path)
    key = (state.path / "secrets/consul-key").read_text().strip()
    assert len(__import__("base64").b64decode(key)) == 32
    assert (state.path / "secrets/consul-key").stat().st_mode & 0o777 == 0o600
    before = {n.path: (n.path.read_bytes(), n.path.stat().st_mtime_ns) for n in nodes}
    _, _, again = render_yaml(MINIMAL, tmp_path)
    assert not any(n.changed for n in again)
    assert {n.path: (n.path.read_bytes(), n.path.stat().st_mtime_ns) for n in again} == before
    assert all(n.path.stat().st_mode & 0o777 == 0o600 for n in again)


MINIMAL = """
    stack: solo
    provider: docker
    admin-network: 10.242.0.0/24
    nodes:
      - ip: 10.242.0.21
"""


def test_given_secrets_win_and_render_never_changes_what_booted_the_stack(tmp_path):
    from blackfish import record

    stack, state, nodes = render_yaml(MINIMAL + "    consul-key: 3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", tmp_path)
    assert 'encrypt        = "3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="' in files(user_data(nodes[0]))["/etc/blackfish/consul/consul.hcl"]
    # Stored too (0600): a later nodes file of the stack that leaves it out uses the same (docs/groups.md).
    assert (state.path / "secrets/consul-key").read_text() == "3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
    assert (state.path / "secrets/consul-key").stat().st_mode & 0o777 == 0o600
    assert record.booted(state) is None
    record.save_booted(state, "docker", ["solo-01"])
    booted = record.booted(state)
    render_yaml(MINIMAL.replace("provider: docker", "provider: virtualbox") + "      - ip: 10.242.0.22\n", tmp_path)
    assert record.booted(state) == booted
    assert [n["name"] for n in record.read(state).plan["nodes"]] == ["solo-01", "solo-02"]
    assert record.stack(state).provider == "docker"


def test_rkt_runtime_renders_rkt_units(tmp_path):
    _, _, nodes = render_yaml(MINIMAL + "    runtime: rkt\n", tmp_path)
    rendered = units(user_data(nodes[0]))
    consul = rendered["blackfish-consul.service"]
    assert "ExecStart=/usr/bin/rkt run --net=host" in consul and "docker://hashicorp/consul:" in consul
    assert "--volume=v1,kind=host,source=/etc/blackfish/consul,readOnly=true --mount=volume=v1,target=/consul/config" in consul
    assert "docker run" not in consul
    # The engine and the swarm stay docker's.
    assert "docker-tls-tcp.socket" in rendered and "blackfish-swarm.service" in rendered


def test_image_overrides_reach_the_units(tmp_path):
    _, _, nodes = render_yaml(MINIMAL + "    images: {consul: mirror.example/consul:2.0.3}\n", tmp_path)
    assert "  mirror.example/consul:2.0.3 agent\n" in units(user_data(nodes[0]))["blackfish-consul.service"]
    assert nodes[0].images["consul"] == "mirror.example/consul:2.0.3"


def test_a_user_template_overrides_one_file_and_can_extend_the_builtin(tmp_path):
    templates = tmp_path / "mine"
    (templates / "files").mkdir(parents=True)
    (templates / "files/hosts.j2").write_text("{{ node.ip }} custom.{{ stack.domain }}\n")
    (templates / "files/registry.yml.j2").write_text(
        '{% extends "builtin/files/registry.yml.j2" %}\n{% block storage %}\n  s3:\n    bucket: b\n{% endblock %}\n')
    text = MINIMAL.replace("- ip: 10.242.0.21", "- ip: 10.242.0.21\n        docker-registry: true")
    text += "    templates: mine\n"
    _, _, nodes = render_yaml(text, tmp_path)
    written = files(user_data(nodes[0]))
    assert written["/etc/blackfish/hosts"] == "10.242.0.21 custom.solo\n"
    registry = yaml.safe_load(written["/etc/blackfish/registry/config.yml"])
    assert registry["storage"]["s3"] == {"bucket": "b"} and "filesystem" not in registry["storage"]
    assert "blackfish-consul.service" in units(user_data(nodes[0]))  # the rest is built-in


def test_a_broken_user_template_is_one_error_with_its_place(tmp_path):
    templates = tmp_path / "mine"
    (templates / "files").mkdir(parents=True)
    (templates / "files/hosts.j2").write_text("ok\n{% if %}\n")
    with pytest.raises(UsageError, match=r"hosts\.j2:2: template syntax error"):
        render_yaml(MINIMAL, tmp_path, templates=templates)
    (templates / "files/hosts.j2").write_text("ok\n{{ node.nickname }}\n")
    with pytest.raises(UsageError, match=r"files/hosts\.j2:2: rendering the user-data of solo-01: .*'nickname'"):
        render_yaml(MINIMAL, tmp_path, templates=templates)
    (templates / "files/hosts.j2").write_text('{% include "files/absent.j2" %}\n')
    with pytest.raises(UsageError, match=r"files/hosts\.j2:1: template 'files/absent.j2' not found"):
        render_yaml(MINIMAL, tmp_path, templates=templates)
    with pytest.raises(UsageError, match="does not exist"):
        render_yaml(MINIMAL, tmp_path, templates=tmp_path / "absent")




LABELS_AS = {
    "mapping": "labels: {env: test}\n    nodes:\n      - ip: 10.242.0.11\n        labels: {type: control, ssd: true}\n",
    "list": "labels: [env=test]\n    nodes:\n      - ip: 10.242.0.11\n        labels:\n          - type=control\n          - ssd=true\n",
}


def test_labels_as_the_seeds_list_or_as_a_mapping_render_the_same_engine_labels(tmp_path):
    rendered = {}
    for form, labels in LABELS_AS.items():
        text = f"""
    stack: lab
    admin-network: 10.242.0.0/24
    {labels}"""
        (tmp_path / form).mkdir()
        _, _, nodes = render_yaml(text, tmp_path / form)
        written = files(user_data(nodes[0]))
        rendered[form] = (json.loads(written["/etc/docker/daemon.json"])["labels"],
                          parse_env_file(written["/etc/blackfish/swarm.env"])["NODE_LABELS"])
    assert rendered["list"] == rendered["mapping"]
    engine, swarm = rendered["list"]
    assert engine[-3:] == ["env=test", "type=control", "ssd=true"]
    assert swarm.split() == engine


def test_several_registry_nodes_share_the_storage_given_in_nodes_yml(tmp_path):
    _, _, nodes = render_yaml("""
    stack: lab
    admin-network: 10.242.0.0/24
    registry-storage:
      s3: {bucket: lab-images, region: eu-west-1, regionendpoint: "http://10.242.0.200:9000", secure: false}
    nodes:
      - ip: 10.242.0.11
        docker-registry: true
      - ip: 10.242.0.12
        docker-registry: true
    """, tmp_path)
    configs = [yaml.safe_load(files(user_data(node))["/etc/blackfish/registry/config.yml"]) for node in nodes]
    for config in configs:
        assert config["storage"]["s3"] == {"bucket": "lab-images", "region": "eu-west-1",
                                           "regionendpoint": "http://10.242.0.200:9000", "secure": False}
        assert "filesystem" not in config["storage"] and config["storage"]["delete"] == {"enabled": True}
    assert configs[0]["http"]["secret"] == configs[1]["http"]["secret"]
