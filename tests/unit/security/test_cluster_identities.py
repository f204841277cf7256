"""Issue 16, finding 6, as rendered: consul ACLs with a token per role, and system-service
containers that get only the files they use.

Consul itself cannot run here (no consul image can be pulled and Debian has no consul
package): its configuration is parsed as HCL (python-hcl2) and checked for what each node gets.
The engine and registry halves of finding 6 run for real in tests/integration
(test_swarm_bootstrap.py, test_render_services.py) and tests/cluster/test_least_privilege.py.
"""

from __future__ import annotations

import json
import re
import subprocess

import hcl2
import pytest

from tests.support.rendered import files, render_yaml, units, user_data
from tests.unit.render.test_render_scripts import SHELLS, shell_argv

STACK = """
    stack: acl
    admin-network: 10.242.0.0/24
    nodes:
      - ip: 10.242.0.51
        docker-registry: true
      - ip: 10.242.0.52
        lb: true
        roles: [consul-server, swarm-manager]
      - ip: 10.242.0.53
        roles: [consul-server, swarm-manager]
      - ip: 10.242.0.54
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    _, state, nodes = render_yaml(STACK, tmp_path_factory.mktemp("acl"))
    secret = lambda name: (state.path / "secrets" / f"consul-token-{name}").read_text().strip()
    tokens = {"management": secret("management"), "registrator": secret("registrator"),
              "consul-template": secret("consul-template"),
              **json.loads((state.path / "secrets" / "consul-agent-tokens.json").read_text())}
    return {n.node.name: user_data(n) for n in nodes}, tokens, state


def value(text: str):
    return json.loads(text) if isinstance(text, str) and text.startswith('"') else text


def test_finding_6_consul_denies_by_default_and_each_agent_has_its_own_token(rendered):
    docs, tokens, state = rendered
    for name, doc in docs.items():
        acl = hcl2.loads(files(doc)["/etc/blackfish/consul/consul.hcl"])["acl"][0]
        assert acl["enabled"] is True and value(acl["default_policy"]) == "deny"
        given = {k: value(v) for k, v in acl["tokens"][0].items() if not k.startswith("__")}
        server = name in ("acl-01", "acl-02", "acl-03")
        assert given == ({"initial_management": tokens["management"]} if server else {}) | {"agent": tokens[name]}
    for f in sorted((state.path / "secrets").glob("consul-token-*")):
        assert f.stat().st_mode & 0o777 == 0o600 and re.fullmatch(r"[0-9a-f-]{36}\n", f.read_text())


def test_finding_6_a_worker_carries_no_token_but_its_agents_and_registrators(rendered):
    docs, tokens, _ = rendered
    worker = docs["acl-04"]
    text = json.dumps(worker)
    assert tokens["acl-04"] in text and tokens["registrator"] in text
    for other in ("management", "consul-template", "acl-01", "acl-02", "acl-03"):
        assert tokens[other] not in text, other
    # Tokens are in 0600 files, never in a unit (units are world-readable on the node).
    assert not any(tokens["registrator"] in u for u in units(worker).values())
    modes = {f["path"]: f["permissions"] for f in worker["write_files"]}
    assert files(worker)["/etc/blackfish/registrator/consul.env"] == f"CONSUL_HTTP_TOKEN={tokens['registrator']}\n"
    assert modes["/etc/blackfish/registrator/consul.env"] == "0600"
    assert "--env-file /etc/blackfish/registrator/consul.env" in units(worker)["blackfish-registrator.service"]


def test_finding_6_servers_create_the_role_tokens_and_lb_reads_with_its_own(rendered):
    docs, tokens, _ = rendered
    env = files(docs["acl-02"])["/etc/blackfish/consul-acl/tokens.env"]
    assert f"MANAGEMENT_TOKEN={tokens['management']}\n" in env and f"acl-04={tokens['acl-04']}" in env
    assert "ExecStart=/opt/blackfish/bin/consul-acl-setup" in units(docs["acl-02"])["blackfish-consul-acl.service"]
    assert "blackfish-consul-acl.service" not in units(docs["acl-04"])
    template = hcl2.loads(files(docs["acl-02"])["/etc/blackfish/haproxy/consul-template.hcl"])
    assert value(template["consul"][0]["token"]) == tokens["consul-template"]
    modes = {f["path"]: f["permissions"] for f in docs["acl-02"]["write_files"]}
    assert modes["/etc/blackfish/haproxy/consul-template.hcl"] == modes["/etc/blackfish/consul-acl/tokens.env"] == "0600"


@pytest.mark.parametrize("shell", SHELLS)
def test_the_acl_setup_script_parses_in_every_shell(rendered, tmp_path, shell):
    script = tmp_path / "consul-acl-setup"
    script.write_text(files(rendered[0]["acl-01"])["/opt/blackfish/bin/consul-acl-setup"])
    proc = subprocess.run([*shell_argv(shell), "-n", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


VOLUME = re.compile(r"--volume (\S+?):(\S+?)(:ro)? ")


def test_finding_6_system_services_mount_only_what_they_use(rendered):
    """No service container mounts the node's TLS directory (on a manager it holds the engine-client
    key); the docker socket goes only to the two that read containers (registrator, telegraf)."""
    docs, _, _ = rendered
    mounts = {}
    for doc in docs.values():
        for name, unit in units(doc).items():
            for host, target, ro in VOLUME.findall(unit.replace("\\\n", " ")):
                mounts.setdefault(name, set()).add((host, bool(ro)))
    assert mounts, "no container unit found"
    for name, used in mounts.items():
        hosts = {h for h, _ in used}
        assert "/etc/docker/tls" not in hosts and not any("client-key" in h for h in hosts), (name, hosts)
        if "/var/run/docker.sock" in hosts:
            assert name in ("blackfish-registrator.service", "blackfish-telegraf.service"), name
        assert all(ro for h, ro in used if h.endswith(".pem")), (name, used)
    assert {h for h, _ in mounts["blackfish-consul.service"]} == {
        "/etc/blackfish/consul", "/var/lib/blackfish/consul", "/etc/blackfish/tls/cas.pem",
        "/etc/docker/tls/cert.pem", "/etc/docker/tls/key.pem"}
    assert {h for h, _ in mounts["blackfish-registry.service"]} == {
        "/etc/blackfish/registry/config.yml", "/var/lib/blackfish/registry"}
