"""Several nodes files, one stack (docs/groups.md), as a user sees it: `render` and `validate`
with a private BLACKFISH_HOME, each later file checked against the stack's record."""

from __future__ import annotations

import json

import yaml

from blackfish.record import read
from blackfish.state import StateDir
from tests.conftest import assert_no_traceback, blackfish
from tests.support.rendered import files, parse_env_file

CONTROL = """\
stack: grp
provider: docker
admin-network: 10.245.0.0/24
nodes:
  - name: c1
    ip: 10.245.0.11
  - name: c2
    ip: 10.245.0.12
  - name: c3
    ip: 10.245.0.13
"""
WORKERS = """\
stack: grp
provider: docker
admin-network: 10.245.0.0/24
labels: [storage=ssd]
nodes:
  - name: w1
    ip: 10.245.0.21
    roles: []
  - name: w2
    ip: 10.245.0.22
    roles: []
"""


def write(tmp_path, name: str, text: str):
    (tmp_path / name).write_text(text)
    return tmp_path / name


def user_data(home, node: str) -> dict:
    return yaml.safe_load((home / "grp" / "nodes" / f"{node}.user-data").read_text())


def test_a_second_file_adds_its_group_to_the_stack_with_the_same_ca_and_secrets(bf_home, tmp_path):
    write(tmp_path, "control.yml", CONTROL)
    write(tmp_path, "workers.yml", WORKERS)
    assert blackfish("render", "-f", "control.yml", cwd=tmp_path).returncode == 0
    control_data = {n: (bf_home / "grp/nodes" / f"{n}.user-data").read_bytes() for n in ("c1", "c2", "c3")}
    ca = (bf_home / "grp/ca.pem").read_bytes()

    result = blackfish("render", "-f", "workers.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 of 2 user-data file(s) written" in result.stdout
    # The control group is left as its own file rendered it; one CA for all.
    assert {n: (bf_home / "grp/nodes" / f"{n}.user-data").read_bytes() for n in ("c1", "c2", "c3")} == control_data
    assert (bf_home / "grp/ca.pem").read_bytes() == ca
    worker = files(user_data(bf_home, "w1"))
    control = files(user_data(bf_home, "c1"))
    for shared in ("/etc/docker/tls/ca.pem",):
        assert worker[shared] == control[shared]
    consul_w, consul_c = worker["/etc/blackfish/consul/consul.hcl"], control["/etc/blackfish/consul/consul.hcl"]
    key = lambda hcl: next(line for line in hcl.splitlines() if line.startswith("encrypt"))  # noqa: E731
    assert key(consul_w) == key(consul_c)
    assert 'retry_join     = ["10.245.0.11", "10.245.0.12", "10.245.0.13"]' in consul_w
    env = parse_env_file(worker["/etc/blackfish/swarm.env"])
    assert (env["ROLE"], env["FIRST_MANAGER"], env["MANAGERS"]) == ("worker", "10.245.0.11", "10.245.0.11 10.245.0.12 10.245.0.13")
    assert "storage=ssd" in env["NODE_LABELS"].split()

    plan = read(StateDir("grp", bf_home)).plan
    assert [(n["name"], n["group"]) for n in plan["nodes"]] == [
        ("c1", "control"), ("c2", "control"), ("c3", "control"), ("w1", "workers"), ("w2", "workers")]
    # Rendering the control file again keeps the workers group in the record.
    assert blackfish("render", "-f", "control.yml", cwd=tmp_path).returncode == 0
    assert len(read(StateDir("grp", bf_home)).plan["nodes"]) == 5


def test_names_and_ips_are_unique_across_the_groups_of_a_stack(bf_home, tmp_path):
    write(tmp_path, "control.yml", CONTROL)
    write(tmp_path, "more.yml", WORKERS.replace("name: w1", "name: c2").replace("10.245.0.22", "10.245.0.13"))
    assert blackfish("render", "-f", "control.yml", cwd=tmp_path).returncode == 0
    result = blackfish("validate", "-f", "more.yml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "more.yml:6:11: nodes[0].name: node name 'c2' is taken by group 'control' of stack 'grp'",
        "more.yml:10:9: nodes[1].ip: 10.245.0.13 is node 'c3' of group 'control' of stack 'grp'",
    ]
    assert_no_traceback(result)


def test_a_group_shares_the_stacks_network_dc_and_secrets(bf_home, tmp_path):
    write(tmp_path, "control.yml", CONTROL)
    assert blackfish("render", "-f", "control.yml", cwd=tmp_path).returncode == 0
    other = (WORKERS.replace("admin-network: 10.245.0.0/24", "admin-network: 10.245.0.0/16\ndc: west")
             + "consul-key: 3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
    write(tmp_path, "workers.yml", other)
    result = blackfish("validate", "-f", "workers.yml", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0] == ("workers.yml:3:16: admin-network: is '10.245.0.0/16', but stack 'grp' has '10.245.0.0/24' "
                        "(group 'control'); every group of a stack shares it")
    assert lines[1].startswith("workers.yml:4:5: dc: is 'west', but stack 'grp' has 'dc1'")
    assert lines[-1].startswith("workers.yml:13:13: consul-key: differs from the one stack 'grp' already uses")


def test_a_group_of_workers_alone_is_refused_with_the_reason(bf_home, tmp_path):
    write(tmp_path, "workers.yml", WORKERS)
    result = blackfish("validate", "-f", "workers.yml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "workers.yml:5:1: nodes: no swarm manager: give at least one node the role 'swarm-manager'",
        "workers.yml:5:1: nodes: no consul server: give at least one node the role 'consul-server'",
    ]


def test_consul_joinip_joins_the_stacks_servers_and_refuses_another_stacks(bf_home, tmp_path):
    write(tmp_path, "control.yml", CONTROL)
    write(tmp_path, "other.yml", CONTROL.replace("stack: grp", "stack: oth").replace("10.245.0.", "10.246.0.")
          .replace("admin-network: 10.246.0.0/24", "admin-network: 10.246.0.0/24"))
    assert blackfish("render", "-f", "control.yml", cwd=tmp_path).returncode == 0
    assert blackfish("render", "-f", "other.yml", cwd=tmp_path).returncode == 0

    write(tmp_path, "workers.yml", WORKERS.replace("nodes:", "consul-joinip: 10.245.0.12\nnodes:"))
    assert blackfish("validate", "-f", "workers.yml", cwd=tmp_path).returncode == 0

    write(tmp_path, "workers.yml", WORKERS.replace("nodes:", "consul-joinip: 10.246.0.11\nnodes:"))
    result = blackfish("validate", "-f", "workers.yml", cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("workers.yml:5:16: consul-joinip: 10.246.0.11 is a node of stack 'oth', not of 'grp': "
                           "each stack has its own CA and gossip key")
    assert line.endswith("to add these nodes to stack 'oth', write `stack: oth` in this file")


def test_registry_nodes_in_two_groups_need_shared_storage(bf_home, tmp_path):
    write(tmp_path, "control.yml", CONTROL.replace("    ip: 10.245.0.11\n", "    ip: 10.245.0.11\n    docker-registry: true\n"))
    assert blackfish("render", "-f", "control.yml", cwd=tmp_path).returncode == 0
    write(tmp_path, "workers.yml", WORKERS.replace("    ip: 10.245.0.21\n", "    ip: 10.245.0.21\n    docker-registry: true\n"))
    result = blackfish("validate", "-f", "workers.yml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("workers.yml:8:22: nodes[0].docker-registry: 2 docker-registry nodes need shared storage")


def test_status_json_of_a_recorded_stack_names_each_nodes_group(bf_home, tmp_path):
    from blackfish.lifecycle import with_groups
    from blackfish.groups import recorded

    write(tmp_path, "control.yml", CONTROL)
    write(tmp_path, "workers.yml", WORKERS)
    for name in ("control.yml", "workers.yml"):
        assert blackfish("render", "-f", name, cwd=tmp_path).returncode == 0
    stack = recorded("grp")
    rows = with_groups(stack, [{"node": n.name, "ip": n.ip, "roles": [], "state": "not_created"} for n in stack.nodes])
    assert [(r["node"], r["group"]) for r in rows] == [("c1", "control"), ("c2", "control"), ("c3", "control"),
                                                       ("w1", "workers"), ("w2", "workers")]
    assert list(rows[0]) == ["node", "group", "ip", "roles", "state"]
    assert json.loads(json.dumps(rows))  # plain data for --json
