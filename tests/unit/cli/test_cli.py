"""The command line as a user meets it: help, version, init, routing to the docker proxy."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
import yaml

from blackfish import __version__

from blackfish.model import config
from blackfish.model.commands import COMMANDS
from tests.conftest import EXAMPLE, assert_no_traceback, blackfish


def test_version():
    result = blackfish("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"blackfish {__version__}"


def test_help_lists_every_command_with_one_line_of_help():
    result = blackfish("--help")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    start = lines.index("Commands:") + 1
    listed = {}
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        name, _, summary = line.strip().partition(" ")
        listed[name] = summary.strip()
    assert set(listed) == set(COMMANDS)
    assert all(listed.values()), listed


def test_help_summaries_are_each_commands_own_first_sentence():
    import click

    from blackfish.cli import cli
    from blackfish.model.commands import SUMMARIES

    ctx = click.Context(cli)
    assert {name: cli.get_command(ctx, name).get_short_help_str(1000) for name in COMMANDS} == SUMMARIES


@pytest.mark.parametrize("args", [(), ("--debug",)], ids=["without click", "through click"])
def test_validate_says_the_same_with_or_without_click(args, tmp_path):
    nodes = tmp_path / "nodes.yml"
    nodes.write_text(EXAMPLE.read_text())
    for spelling in (("-f", str(nodes)), ("--file", str(nodes)), (f"--file={nodes}",)):
        result = blackfish(*args, "validate", *spelling)
        assert (result.returncode, result.stderr) == (0, "")
        assert result.stdout == f"{nodes}: ok: stack 'vagrant', group 'nodes', 3 node(s), provider virtualbox\n"
    nodes.write_text("stack: vagrant\nnodes:\n  - ip: 10.0.0.300\n")
    result = blackfish(*args, "validate", "-f", str(nodes))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines()[-1].startswith(f"{nodes}:3:9: nodes[0].ip: not an IP address"), result.stderr


def test_validate_of_a_new_stack_loads_only_what_checking_needs(bf_home):
    # Editors run validate on every save (bench/bench_cli.py times it); each of these modules
    # cost it milliseconds before it was left out of that path.
    never = {"click", "pathlib", "dataclasses", "json", "threading", "importlib.util", "publicsuffixlist",
             "blackfish.state", "blackfish.record", "blackfish.model.stack"}
    program = ("import atexit, sys\n"
               "atexit.register(lambda: print(' '.join(sys.modules), file=sys.stderr))\n"
               f"sys.argv = ['blackfish', 'validate', '-f', {str(EXAMPLE)!r}]\n"
               "from blackfish.entry import main\n"
               "main()\n")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith(f"{EXAMPLE}: ok: stack 'vagrant'"), result.stderr
    assert never & set(result.stderr.split()) == set()


def test_unknown_command_is_a_usage_error(bf_home):
    result = blackfish("frobnicate")
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["blackfish: error: No such command 'frobnicate' (see `blackfish --help`)"]


@pytest.mark.parametrize(("args", "message"), [
    (("validate", "--bogus"), "No such option '--bogus' (see `blackfish validate --help`)"),
    (("box", "images", "--format", "yaml"),
     "Invalid value for '--format': 'yaml' is not one of 'text', 'json' (see `blackfish box images --help`)"),
    (("certs", "show", "../../etc"), "'../../etc' is not a stack name: must be a DNS label"),
])
def test_bad_command_lines_are_one_line_errors_with_exit_2(bf_home, tmp_path, args, message):
    result = blackfish(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(f"blackfish: error: {message}"), result.stderr


def test_a_group_without_its_subcommand_shows_its_help():
    result = blackfish("certs")
    assert "Commands:" in result.stdout + result.stderr and "rotate" in result.stdout + result.stderr


def test_a_stack_name_routes_to_the_docker_proxy(bf_home):
    record = {"stack": "demo", "dc": "dc1", "admin-network": "127.0.0.0/8", "provider": "docker",
              "nodes": [{"name": "demo-01", "ip": "127.0.0.1", "roles": ["swarm-manager"]}]}
    (bf_home / "demo").mkdir(parents=True)
    (bf_home / "demo" / "stack.json").write_text(json.dumps(record))
    result = blackfish("demo", "ps", "-a")
    assert "No such command" not in result.stderr
    # The proxy took the call: it asks for the stack's TLS material before probing a manager.
    assert result.returncode == 1
    assert "run `blackfish up demo`" in result.stderr
    assert_no_traceback(result)


def test_init_writes_a_valid_starter_with_fresh_secrets_and_refuses_to_overwrite(tmp_path):
    result = blackfish("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "nodes.yml"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    first = yaml.safe_load(path.read_text())
    assert config.load(path).config.stack == "vagrant"
    assert first["consul-key"] not in result.stdout + result.stderr

    other = tmp_path / "other"
    other.mkdir()
    assert blackfish("init", cwd=other).returncode == 0
    assert yaml.safe_load((other / "nodes.yml").read_text())["consul-key"] != first["consul-key"]

    before = path.read_bytes()
    again = blackfish("init", cwd=tmp_path)
    assert again.returncode == 2
    assert "already exists" in again.stderr
    assert path.read_bytes() == before


@pytest.mark.parametrize(("args", "message"), [
    (("--stack", "My Stack"), "--stack: must be a DNS label"),
    (("--stack", "status"), "--stack: 'status' is a blackfish command"),
    (("--provider", "virtualbx"), "--provider: unknown provider 'virtualbx'; did you mean 'virtualbox'?"),
    (("missing-dir/nodes.yml",), "missing-dir/nodes.yml: cannot write: No such file or directory"),
])
def test_init_refuses_what_would_not_make_a_valid_file(tmp_path, args, message):
    result = blackfish("init", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(f"blackfish: error: {message}"), result.stderr
    assert not (tmp_path / "nodes.yml").exists()


def test_schema_is_json_schema_of_nodes_yml():
    result = blackfish("schema")
    schema = json.loads(result.stdout)
    config_def = schema["$defs"]["Config"]
    assert {"stack", "nodes", "admin-network", "consul-key"} <= set(config_def["properties"])
    assert config_def["additionalProperties"] is False


def test_the_recorded_stack_keeps_what_later_commands_need():
    from blackfish.model.stack import Stack, plan

    text = EXAMPLE.read_text() + "images: {consul: example/consul:9}\npki: {key: rsa-2048}\n"
    stack = plan(config.parse(text).config)
    again = Stack.from_record(json.loads(json.dumps(stack.to_record())))
    assert again.images == stack.images and again.images["consul"] == "example/consul:9"
    assert (again.pki_key, again.name_constraints) == ("rsa-2048", True)
    assert [(n.name, n.ip, n.roles, n.labels) for n in again.nodes] == [(n.name, n.ip, n.roles, n.labels) for n in stack.nodes]


@pytest.mark.parametrize(("content", "message"), [
    ("{bad", "stack.json: damaged (not JSON: "),
    ("[]", "stack.json: damaged (not a JSON object); remove it and run `blackfish up` again"),
    ('{"stack": "demo"}', "stack.json of stack 'demo' is incomplete (KeyError: 'dc'); run `blackfish up` to write it again"),
])
def test_a_damaged_stack_record_is_a_one_line_error(bf_home, tmp_path, content, message):
    (bf_home / "demo").mkdir(parents=True)
    (bf_home / "demo" / "stack.json").write_text(content)
    for args in (("status", "demo"), ("demo", "ps")):
        result = blackfish(*args, cwd=tmp_path)
        assert result.returncode == 2
        assert len(result.stderr.splitlines()) == 1 and message in result.stderr, result.stderr
