"""nodes.yml validation, as a user sees it: `blackfish validate` on real files.

Each testdata/config/invalid-*.yml names on its first lines the exact error it must produce
(`# expect: LINE:COL: path: message`); warning-*.yml the warnings (`# warn: ...`), which do
not fail validation; valid-*.yml must pass.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from blackfish.model import config
from blackfish.errors import ConfigError, UsageError
from tests.conftest import EXAMPLE, assert_no_traceback, blackfish

DATA = Path(__file__).parent / "testdata" / "config"


def _expected(path: Path, tag: str) -> list[str]:
    lines = path.read_text().splitlines()
    return [f"{path}:{line.split(': ', 1)[1]}" for line in lines if line.startswith(f"# {tag}: ")]


@pytest.mark.parametrize("path", sorted(DATA.glob("invalid-*.yml")), ids=lambda p: p.stem)
def test_invalid_file_is_reported_with_its_place(path):
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert [str(p) for p in caught.value.problems] == _expected(path, "expect")


@pytest.mark.parametrize("path", sorted(DATA.glob("warning-*.yml")), ids=lambda p: p.stem)
def test_warnings_do_not_fail_validation(path):
    loaded = config.load(path)
    assert [str(w) for w in loaded.warnings] == _expected(path, "warn")


@pytest.mark.parametrize("path", sorted(DATA.glob("valid-*.yml")) + [EXAMPLE], ids=lambda p: p.stem)
def test_valid_files_load(path):
    assert config.load(path).warnings == []


def test_cli_prints_one_line_per_problem_and_exits_2(tmp_path):
    bad = tmp_path / "nodes.yml"
    bad.write_text("stack: demo\nnodes:\n  - ip: 10.1.1.1\n    memory: 0\n  - ip: 10.1.1.1\n")
    result = blackfish("validate", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "nodes.yml:3:9: nodes[0].ip: 10.1.1.1 is outside admin-network 192.168.56.0/24",
        "nodes.yml:4:13: nodes[0].memory: must be a positive number of MiB",
        "nodes.yml:5:9: nodes[1].ip: 10.1.1.1 is outside admin-network 192.168.56.0/24",
        "nodes.yml:5:9: nodes[1].ip: duplicate IP 10.1.1.1 (also nodes[0])",
    ]
    assert_no_traceback(result)


def test_cli_reads_file_option_then_env_then_cwd(tmp_path):
    (tmp_path / "nodes.yml").write_text("stack: fromcwd\nnodes:\n  - ip: 192.168.56.10\n")
    (tmp_path / "env.yml").write_text("stack: fromenv\nnodes:\n  - ip: 192.168.56.10\n")
    (tmp_path / "opt.yml").write_text("stack: fromopt\nnodes:\n  - ip: 192.168.56.10\n")
    assert "'fromcwd'" in blackfish("validate", cwd=tmp_path).stdout
    env = {"BLACKFISH_NODES_YML": str(tmp_path / "env.yml")}
    assert "'fromenv'" in blackfish("validate", cwd=tmp_path, env=env).stdout
    assert "'fromopt'" in blackfish("validate", "-f", "opt.yml", cwd=tmp_path, env=env).stdout


def test_missing_file_says_how_to_get_one(tmp_path):
    result = blackfish("validate", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "blackfish: error: nodes.yml: no such file (choose one with -f/--file or $BLACKFISH_NODES_YML, "
        "or write a starter with `blackfish init`)"
    )


def test_warning_is_printed_and_exit_is_0(tmp_path):
    result = blackfish("validate", "-f", str(DATA / "warning-even-managers.yml"))
    assert result.returncode == 0
    assert "warning: nodes: 2 swarm managers" in result.stderr


def test_debug_shows_the_traceback(tmp_path):
    result = blackfish("--debug", "validate", "-f", str(DATA / "invalid-memory.yml"))
    assert result.returncode == 2
    assert "Traceback" in result.stderr


def test_plan_defaults_follow_the_seed(tmp_path):
    from blackfish.model.stack import plan

    stack = plan(config.load(EXAMPLE).config)
    assert [n.name for n in stack.nodes] == ["vagrant-01", "vagrant-02", "vagrant-03"]
    assert [n.name for n in stack.managers] == ["vagrant-01", "vagrant-02", "vagrant-03"]
    assert [n.name for n in stack.registries] == ["vagrant-01"]
    assert stack.nodes[0].fqdn == "vagrant-01.node.dc1.vagrant"


def test_id_is_an_engine_label_of_every_node(tmp_path):
    import json

    from tests.support.rendered import files, render_yaml, user_data

    _, _, nodes = render_yaml("stack: demo\nid: east-7\nnodes:\n  - ip: 192.168.56.101\n  - ip: 192.168.56.102\n", tmp_path)
    for node in nodes:
        daemon = json.loads(files(user_data(node))["/etc/docker/daemon.json"])
        assert "io.blackfish.id=east-7" in daemon["labels"]


def test_validate_refuses_two_registry_nodes_without_shared_storage(tmp_path):
    (tmp_path / "nodes.yml").write_text("stack: demo\nnodes:\n  - ip: 192.168.56.10\n    docker-registry: true\n"
                                        "  - ip: 192.168.56.11\n    docker-registry: true\n")
    result = blackfish("validate", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("nodes.yml:6:22: nodes[1].docker-registry: 2 docker-registry nodes need shared storage")
    assert_no_traceback(result)


@pytest.mark.parametrize("name", ["a-", "-a", "A", "a.b", "a\n", "x" * 64, "status"])
def test_one_stack_name_rule_for_nodes_yml_the_command_line_and_the_trust_stores(name, tmp_path):
    from blackfish.host.trust.store import Target
    from blackfish.model.naming import stack_name_problem

    problem = stack_name_problem(name)
    assert problem is not None
    with pytest.raises(UsageError, match="is not a stack name: " + re.escape(problem)):
        Target(stack=name, ca=tmp_path / "ca.pem")
