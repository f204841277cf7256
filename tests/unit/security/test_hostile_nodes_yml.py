"""Issue 16: hostile nodes.yml values, as an adversarial review tried them, through the real CLI.

Each test reproduces one finding (its number in the test's name) and shows the fix: `validate`
exits 2 with one FILE:LINE:COL line per problem and no traceback.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import assert_no_traceback, blackfish

BASE = "stack: demo\nnodes:\n  - ip: 192.168.56.10\n"


def validate(tmp_path, text: str, name: str = "nodes.yml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = blackfish("validate", "-f", name, cwd=tmp_path, timeout=60)
    assert_no_traceback(result)
    return result


def assert_refused(result, *lines: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == list(lines)


# --- finding 1: IPv6 zone IDs, strict IP parsing everywhere -----------------------------

@pytest.mark.parametrize(("field", "text", "line"), [
    ("nodes[0].ip", 'stack: demo\nadmin-network: 192.168.56.0/24\nnodes:\n  - ip: "fd00:56::11%lo"\n', "nodes.yml:4:9"),
    ("consul-joinip", BASE + 'consul-joinip: "fd00::1%eth0"\n', "nodes.yml:4:16"),
    ("nodes[0].ip", 'stack: demo\nnodes:\n  - ip: " 192.168.56.10"\n', "nodes.yml:3:9"),
])
def test_finding_1_zone_ids_and_padded_addresses_are_not_addresses(tmp_path, field, text, line):
    result = validate(tmp_path, text)
    value = text.split('"')[1]
    assert_refused(result, f"{line}: {field}: not an IP address: {value!r}")


def test_finding_1_the_dnsmasq_injection_value_is_refused(tmp_path):
    result = validate(tmp_path, 'stack: demo\nnodes:\n  - ip: "fd00:56::11%lo\\nserver=6.6.6.6"\n')
    assert_refused(result, "nodes.yml:3:9: nodes[0].ip: a value may not contain control characters or line breaks (found '\\n')")


def write_record(home, network: str = "192.168.56.0/24", ip: str = "192.168.56.10") -> None:
    """A stack.json for stack demo, as written by hand or damaged (the values go in as given)."""
    (home / "demo").mkdir(parents=True)
    (home / "demo" / "stack.json").write_text(json.dumps({
        "stack": "demo", "dc": "dc1", "admin-network": network, "provider": "docker",
        "nodes": [{"name": "demo-01", "ip": ip, "roles": ["consul-server", "swarm-manager"]}]}))


def test_finding_1_a_zone_id_in_stack_json_never_reaches_the_dnsmasq_file(bf_home, tmp_path):
    write_record(bf_home, ip="192.168.56.10%lo\nserver=6.6.6.6")
    result = blackfish("dns", "demo", "--via", "networkmanager", "--dry-run", cwd=tmp_path)
    assert_no_traceback(result)
    assert result.returncode == 2
    assert "server=6.6.6.6" not in result.stdout
    assert "stack.json of stack 'demo' is damaged (nodes[0].ip: not an IP address: " in result.stderr


# --- finding 2: public-suffix stack domains, public admin networks ----------------------

@pytest.mark.parametrize("name", ["com", "dev", "app", "io", "one"])
def test_finding_2_a_public_suffix_cannot_be_the_stack_domain(tmp_path, name):
    result = validate(tmp_path, BASE.replace("demo", name))
    assert_refused(result, f"nodes.yml:1:8: stack: {name!r} is a public suffix (a top-level domain like com or dev): "
                           "the stack's CA would be trusted for every site under it; choose a name that is no internet domain")


def test_finding_2_a_public_admin_network_is_refused_while_the_ca_is_constrained(tmp_path):
    text = "stack: demo\nadmin-network: 0.0.0.0/0\nnodes:\n  - ip: 8.8.8.8\n    name: google\n"
    result = validate(tmp_path, text)
    assert_refused(result, "nodes.yml:2:16: admin-network: 0.0.0.0/0 is not private address space: the stack's CA, "
                           "constrained to it, could vouch for hosts on the internet; use a private network "
                           "(like 192.168.56.0/24), or set `pki: {name-constraints: false}` knowingly "
                           "(then `certs install` refuses the CA)")
    knowingly = validate(tmp_path, text + "pki: {name-constraints: false}\n")
    assert knowingly.returncode == 0, knowingly.stderr


# --- finding 4: full-match validation of every free-text field --------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ('stack: "inj\\n"\nnodes:\n  - ip: 192.168.56.10\n', "nodes.yml:1:8: stack: "),
    (BASE + 'influxdb-url: "http://influx:8086\\n[[inputs.exec]]"\n', "nodes.yml:4:15: influxdb-url: "),
    (BASE + 'dc: "dc1\\n"\n', "nodes.yml:4:5: dc: "),
    ('stack: demo\nnodes:\n  - ip: 192.168.56.10\n    name: "n1\\n"\n', "nodes.yml:4:11: nodes[0].name: "),
    (BASE + 'labels: {zone: "a\\n"}\n', "nodes.yml:4:16: labels.zone: "),
    (BASE + 'id: "x\\n"\n', "nodes.yml:4:5: id: "),
    (BASE + 'journald-sink: "logs:5000\\n"\n', "nodes.yml:4:16: journald-sink: "),
])
def test_finding_4_a_trailing_newline_is_refused_in_every_field(tmp_path, text, expected):
    result = validate(tmp_path, text)
    assert result.returncode == 2
    assert result.stderr.startswith(expected), result.stderr
    assert "control characters or line breaks" in result.stderr


@pytest.mark.parametrize(("field", "value", "message"), [
    ("influxdb-url", "http://influx:8086/x y", "must be an http:// or https:// URL"),
    ("influxdb-url", "http://${HOME}:8086", "must be an http:// or https:// URL"),
    ("journald-sink", "logs:5000 x", "must be HOST:PORT"),
    ("id", "a b", "may not contain spaces, quotes, '$', '`' or '\\' (it becomes the engine label io.blackfish.id)"),
])
def test_finding_4_patterns_match_the_whole_value(tmp_path, field, value, message):
    result = validate(tmp_path, BASE + f'{field}: "{value}"\n')
    assert result.returncode == 2
    assert result.stderr.strip().endswith(f"{field}: {message}"), result.stderr


# --- finding 5 and 12: bounded YAML -------------------------------------------------------

ALIAS_BOMB = BASE + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi")
).replace("*a", '"lol"', 9)


def test_finding_5_an_alias_bomb_is_refused_with_its_place(tmp_path):
    assert len(ALIAS_BOMB.encode()) < 600
    result = validate(tmp_path, ALIAS_BOMB)
    assert_refused(result, "nodes.yml:8:4: expands to more than 50000 values (through aliases)")


def test_finding_5_a_self_referencing_alias_is_refused(tmp_path):
    result = validate(tmp_path, BASE + "labels: &l {a: *l}\n")
    assert_refused(result, "nodes.yml:4:16: alias *l refers to a node that contains it")


def test_finding_10_deeply_nested_yaml_is_refused_not_an_internal_error(tmp_path):
    result = validate(tmp_path, BASE + "labels: " + "[" * 3000 + "]" * 3000 + "\n")
    assert_refused(result, "nodes.yml:4:24: nested deeper than 16 levels")


def test_finding_12_a_50_mb_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "nodes.yml"
    with path.open("w") as f:
        f.write(BASE)
        f.truncate(50 * 1024 * 1024)
    result = blackfish("validate", cwd=tmp_path, timeout=60)
    assert_refused(result, "nodes.yml:1:1: larger than 256 KiB; a nodes.yml is a few KB")


def test_finding_12_a_fifo_is_refused_instead_of_blocking(tmp_path):
    os.mkfifo(tmp_path / "nodes.yml")
    # The timeout only guards against a hang; the refusal is immediate.
    result = blackfish("validate", cwd=tmp_path, timeout=60)
    assert_refused(result, "nodes.yml:1:1: not a regular file")


def test_finding_12_an_ipv6_admin_network_is_refused(tmp_path):
    result = validate(tmp_path, "stack: demo\nadmin-network: fd00:56::/64\nnodes:\n  - ip: fd00:56::11\n")
    assert_refused(result, "nodes.yml:2:16: admin-network: must be an IPv4 network: node units, the swarm "
                           "bootstrap and Vagrant's host-only networks are written for IPv4")


# --- finding 8: images, ssh-key -----------------------------------------------------------

def test_finding_8_image_values_are_image_references(tmp_path):
    result = validate(tmp_path, BASE + 'images: {consul: "hashicorp/consul:2 --privileged"}\n')
    assert_refused(result, "nodes.yml:4:18: images.consul: 'hashicorp/consul:2 --privileged' is not an image "
                           "reference (like registry:3.1.1 or host:5000/team/consul:2.0)")


def test_finding_8_ssh_key_is_one_line(tmp_path):
    result = validate(tmp_path, BASE + 'ssh-key: "ssh-ed25519 AAAAC3Nza me\\nssh-ed25519 AAAAC3Nzb evil"\n')
    assert result.returncode == 2
    assert result.stderr.startswith("nodes.yml:4:10: ssh-key: a value may not contain control characters")
    two_words = validate(tmp_path, BASE + 'ssh-key: "ssh-ed25519 AAAAC3Nza me ssh-ed25519 AAAAC3Nzb"\n')
    assert two_words.returncode == 0  # a comment may hold spaces; a second line may not


# --- finding 10: what used to be internal errors -------------------------------------------

def test_finding_10_a_lone_surrogate_is_refused_with_its_place(tmp_path):
    result = validate(tmp_path, BASE + 'labels: {a: "b\\ud800"}\n')
    assert_refused(result, "nodes.yml:4:13: labels.a: a value may not contain control characters or line breaks (found '\\ud800')")


def test_finding_10_a_20000_character_value_is_refused(tmp_path):
    result = validate(tmp_path, BASE + "templates: " + "a" * 20000 + "\n")
    assert_refused(result, "nodes.yml:4:12: templates: a value may be at most 4096 characters long, this one has 20000")


def test_finding_10_a_bad_admin_network_in_stack_json_is_bad_input(bf_home, tmp_path):
    write_record(bf_home, network="192.168.56.0/33")
    result = blackfish("status", "demo", cwd=tmp_path)
    assert_no_traceback(result)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "blackfish: error: stack.json of stack 'demo' is damaged (admin-network: not a network in CIDR form "
        "(like 192.168.56.0/24): '192.168.56.0/33' does not appear to be an IPv4 or IPv6 network); "
        "run `blackfish up` to write it again")
