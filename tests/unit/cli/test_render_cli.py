"""`blackfish render` as a user runs it: a summary per node, user-data files, clear errors."""

from __future__ import annotations

import json
import shutil

from tests.conftest import EXAMPLE, assert_no_traceback, blackfish


def test_render_writes_every_nodes_user_data_and_summarises_it(bf_home, tmp_path):
    shutil.copy(EXAMPLE, tmp_path / "nodes.yml")
    result = blackfish("render", cwd=tmp_path)
    assert result.returncode == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["vagrant-01", "192.168.56.101", "roles:", "consul-server,", "swarm-manager,", "docker-registry"]
    assert lines[1].split() == ["services:", "docker,", "swarm,", "consul,", "registrator,", "registry"]
    assert lines[5].split()[-2:] == ["haproxy,", "consul-template"]
    assert lines[-1] == f"3 of 3 user-data file(s) written under {bf_home / 'vagrant' / 'nodes'} (0600)"
    for name in ("vagrant-01", "vagrant-02", "vagrant-03"):
        path = bf_home / "vagrant" / "nodes" / f"{name}.user-data"
        assert path.read_text().startswith("#cloud-config\n") and path.stat().st_mode & 0o777 == 0o600
    again = blackfish("render", "vagrant", "-f", str(tmp_path / "nodes.yml"))
    assert again.returncode == 0 and again.out.splitlines()[-1].startswith("0 of 3 user-data file(s) written")


def test_render_json(bf_home):
    result = blackfish("render", "-f", str(EXAMPLE), "--json")
    assert result.returncode == 0, result.err
    rows = json.loads(result.out)
    assert [r["node"] for r in rows] == ["vagrant-01", "vagrant-02", "vagrant-03"]
    assert rows[2]["services"] == ["docker", "swarm", "consul", "registrator", "haproxy", "consul-template"]
    assert rows[0]["user-data"] == str(bf_home / "vagrant" / "nodes" / "vagrant-01.user-data")


def test_render_errors_are_one_line_and_exit_2(bf_home, tmp_path):
    result = blackfish("render", "other", "-f", str(EXAMPLE))
    assert result.returncode == 2 and "describes stack 'vagrant', not 'other'" in result.err
    result = blackfish("render", "-f", str(EXAMPLE), "--templates", str(tmp_path / "absent"))
    assert result.returncode == 2 and result.err.strip().endswith(f"templates directory {tmp_path / 'absent'} does not exist")
    mine = tmp_path / "mine" / "units"
    mine.mkdir(parents=True)
    (mine / "blackfish-swarm.service.j2").write_text("[Unit]\n{{ node.name \n")
    result = blackfish("render", "-f", str(EXAMPLE), "--templates", str(tmp_path / "mine"))
    assert result.returncode == 2 and "blackfish-swarm.service.j2:2: template syntax error" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert_no_traceback(result)


def test_generated_secrets_are_stored_0600_and_never_printed(bf_home, tmp_path):
    shutil.copy(EXAMPLE, tmp_path / "nodes.yml")
    outputs = [blackfish("--debug", "render", cwd=tmp_path), blackfish("render", "--json", cwd=tmp_path),
               blackfish("validate", "--json", cwd=tmp_path), blackfish("certs", "show", cwd=tmp_path)]
    assert all(r.returncode == 0 for r in outputs), [r.err for r in outputs]
    state = bf_home / "vagrant"
    secrets = {name: (state / name).read_text().strip()
               for name in ("secrets/consul-key", "secrets/registry-secret", "client.pfx.password")}
    for name in secrets:
        assert (state / name).stat().st_mode & 0o777 == 0o600, name
    printed = "".join(r.out + r.err for r in outputs)
    assert [name for name, value in secrets.items() if value in printed] == []
