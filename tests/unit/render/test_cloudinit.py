"""The docker provider's cloud-config applier: what it accepts, what it refuses, in what order it acts."""

from __future__ import annotations

import base64
import gzip

import pytest

from blackfish.render import cloudinit
from blackfish.render.cloudinit import CloudConfigError, PutFiles, Run
from blackfish.errors import ProviderError
from tests.support.rendered import render_yaml

DOC = """\
#cloud-config
hostname: n1
ssh_authorized_keys:
  - "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample me@host  "
write_files:
  - path: /etc/blackfish/plain
    content: "hello\\n"
  - path: /etc/docker/tls/key.pem
    permissions: "0600"
    owner: root:root
    content: KEY
  - path: /opt/blackfish/bin/tool
    permissions: "755"
    encoding: gzip+base64
    content: {packed}
coreos:
  units:
    - name: docker.service
      command: stop
      drop_ins:
        - name: 10-blackfish.conf
          content: "[Unit]\\nWants=docker-tls-tcp.socket\\n"
    - name: docker-tls-tcp.socket
      enable: true
      command: start
      content: "[Socket]\\nListenStream=10.0.0.1:2376\\n"
    - name: docker.service
      command: start
    - name: fleet.service
      mask: true
    - name: early.service
      runtime: true
      enable: true
      content: "[Service]\\nExecStart=/bin/true\\n"
""".format(packed=base64.b64encode(gzip.compress(b"#!/bin/sh\necho tool\n")).decode())


# Every command the applier may run; stubs stand in for them, so nothing on this machine changes.
STUBBED = ("systemctl", "chown", "useradd", "id", "hostname", "rm", "readlink")


class LocalNode:
    """A node stand-in on this machine: commands run for real in a shell, with the commands in
    STUBBED replaced on PATH by a stub that logs its arguments and fails (exit 1, printing
    `boom`) when its command line is in `failing`. `log` holds what was put and run, in order."""

    name = "n1"

    def __init__(self, tmp_path, failing=()):
        self.log = []
        self.calls = 0
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.record = tmp_path / "ran"
        (tmp_path / "failing").write_text("".join("\x1f".join(argv) + "\n" for argv in failing))
        stub = self.bin / "stub"
        stub.write_text(f"""#!/bin/sh
line=$(basename "$0"); for arg in "$@"; do line="$line$(printf '\\037')$arg"; done
printf '%s\\n' "$line" >>{self.record}
if grep -qxF -- "$line" {tmp_path / "failing"}; then echo boom; exit 1; fi
""")
        stub.chmod(0o755)
        for command in STUBBED:
            (self.bin / command).symlink_to(stub)

    def put(self, entries):
        self.log.append(("put", entries))

    def run(self, argv):
        import os
        import subprocess

        self.calls += 1
        before = self.record.read_text().splitlines() if self.record.exists() else []
        done = subprocess.run(list(argv), capture_output=True, text=True,
                              env={**os.environ, "PATH": f"{self.bin}:{os.environ['PATH']}"})
        after = self.record.read_text().splitlines() if self.record.exists() else []
        self.log.extend(("run", tuple(line.split("\x1f"))) for line in after[len(before):])
        return done.returncode, done.stdout + done.stderr

    def ran(self):
        return [entry[1] for entry in self.log if entry[0] == "run"]


def test_a_full_document_parses_into_files_and_units():
    config = cloudinit.parse(DOC)
    assert config.hostname == "n1"
    assert config.ssh_authorized_keys == ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample me@host",)
    files = {f.path: f for f in config.write_files}
    assert files["/etc/blackfish/plain"].data == b"hello\n" and files["/etc/blackfish/plain"].mode == 0o644
    assert files["/etc/docker/tls/key.pem"].mode == 0o600 and files["/etc/docker/tls/key.pem"].owner == "root:root"
    assert files["/opt/blackfish/bin/tool"].data == b"#!/bin/sh\necho tool\n" and files["/opt/blackfish/bin/tool"].mode == 0o755
    assert [u.name for u in config.units] == ["docker.service", "docker-tls-tcp.socket", "docker.service",
                                             "fleet.service", "early.service"]
    assert config.units[4].path == "/run/systemd/system/early.service"


def test_steps_follow_coreos_cloudinit_order():
    steps = cloudinit.plan(cloudinit.parse(DOC), current_hostname="other")
    kinds = [(type(s).__name__, s.what) for s in steps]
    assert kinds == [
        ("Run", "set the hostname"),
        ("Run", "create the core user"),
        ("PutFiles", "ssh_authorized_keys"),
        ("Run", "give the core user its keys"),
        ("PutFiles", "write_files"),
        ("Run", "set write_files owners"),
        ("PutFiles", "units and drop-ins"),
        ("Run", "enable units"),
        ("Run", "enable units"),
        ("Run", "reload systemd"),
        ("Run", "stop docker.service"),
        ("Run", "start docker-tls-tcp.socket"),
        ("Run", "start docker.service"),
    ]
    units = next(s for s in steps if isinstance(s, PutFiles) and s.what == "units and drop-ins")
    placed = {e.path: e for e in units.entries}
    assert placed["/etc/systemd/system/docker.service.d/10-blackfish.conf"].data.startswith(b"[Unit]")
    assert placed["/etc/systemd/system/fleet.service"].link == "/dev/null"  # mask
    assert "/run/systemd/system/early.service" in placed  # runtime
    enables = [s.argv for s in steps if isinstance(s, Run) and s.what == "enable units"]
    # No reload per enable: one daemon-reload follows them, as coreos-cloudinit does it.
    assert enables == [("systemctl", "enable", "--force", "--no-reload", "docker-tls-tcp.socket"),
                       ("systemctl", "enable", "--force", "--no-reload", "--runtime", "early.service")]


def test_the_hostname_is_left_alone_when_it_is_already_right():
    steps = cloudinit.plan(cloudinit.parse(DOC), current_hostname="n1")
    assert all(getattr(s, "what", "") != "set the hostname" for s in steps)


def test_the_commands_run_in_the_planned_order_in_few_calls_into_the_node(tmp_path):
    node = LocalNode(tmp_path)
    assert cloudinit.apply(cloudinit.parse(DOC), node, current_hostname="other") == []
    planned = [s.argv for s in cloudinit.plan(cloudinit.parse(DOC), current_hostname="other") if isinstance(s, Run)]
    ran = node.ran()
    assert ran[0] == ("hostname", "n1")
    assert ran[-6:] == [argv for argv in planned if argv[0] == "systemctl"]
    # Consecutive commands go together: a call into a node (docker exec, ssh) costs more than most steps.
    assert node.calls == 4  # hostname and useradd; the keys' chown; the owners; every unit step


def test_a_failing_unit_command_does_not_stop_the_rest(tmp_path):
    node = LocalNode(tmp_path, failing={("systemctl", "start", "docker-tls-tcp.socket")})
    failures = cloudinit.apply(cloudinit.parse(DOC), node, current_hostname="n1")
    assert failures == ["n1: start docker-tls-tcp.socket (`systemctl start docker-tls-tcp.socket`) failed with exit code 1: boom"]
    assert node.log[-1] == ("run", ("systemctl", "start", "docker.service"))


def test_each_failing_unit_command_is_reported_with_its_own_output(tmp_path):
    node = LocalNode(tmp_path, failing={("systemctl", "stop", "docker.service"), ("systemctl", "start", "docker.service")})
    failures = cloudinit.apply(cloudinit.parse(DOC), node, current_hostname="n1")
    assert failures == ["n1: stop docker.service (`systemctl stop docker.service`) failed with exit code 1: boom",
                        "n1: start docker.service (`systemctl start docker.service`) failed with exit code 1: boom"]


def test_a_failing_set_up_step_is_an_error_with_the_output(tmp_path):
    node = LocalNode(tmp_path, failing={("systemctl", "daemon-reload")})
    with pytest.raises(ProviderError, match="n1: reload systemd .* failed with exit code 1") as info:
        cloudinit.apply(cloudinit.parse(DOC), node, current_hostname="n1")
    assert info.value.detail == "boom"
    assert node.ran()[-1] == ("systemctl", "daemon-reload")  # nothing after it ran


def test_the_files_go_in_before_the_wait_for_systemd(tmp_path):
    """The docker provider places a new node's files while its systemd boots, and waits for
    systemd only before the first command that needs it."""
    node = LocalNode(tmp_path)
    cloudinit.apply(cloudinit.parse(DOC), node, current_hostname="n1",
                    before_systemd=lambda: node.log.append(("wait for systemd",)))
    kinds = [entry[0] if entry[0] != "put" else entry[1][0].path for entry in node.log]
    waited = kinds.index("wait for systemd")
    assert kinds.count("wait for systemd") == 1
    assert "/etc/systemd/system/docker.service.d/10-blackfish.conf" in [e.path for _, entries in node.log[:waited]
                                                                          if _ == "put" for e in entries]
    assert node.log[waited + 1][1][0] == "systemctl" and all(entry[0] != "run" or entry[1][0] != "systemctl"
                                                             for entry in node.log[:waited])


def test_a_command_with_quotes_and_several_lines_of_output_is_run_and_reported_as_it_is(tmp_path):
    node = LocalNode(tmp_path)
    runs = [Run(("printf", "%s\\n%s\\n", "it's", "a \"b\""), "print", check=False),
            Run(("sh", "-c", "echo out; echo err >&2; exit 3"), "fail", check=False),
            Run(("true",), "nothing")]
    assert cloudinit.together(node, runs) == [(0, "it's\na \"b\""), (3, "out\nerr"), (0, "")]
    assert node.calls == 1


def test_commands_that_did_not_all_run_are_an_error(tmp_path):
    """A script cut short (the node stopping, say) must not pass for commands that succeeded."""
    node = LocalNode(tmp_path)
    runs = [Run(("true",), "first", check=False), Run(("sh", "-c", "kill -9 $PPID"), "cut", check=False),
            Run(("true",), "never", check=False)]
    with pytest.raises(ProviderError, match="the commands did not all run"):
        cloudinit.together(node, runs)


@pytest.mark.parametrize("change, message", [
    ("coreos:\n  units:\n    - name: a.service\n      drop-ins: []\n", "coreos.units[0].drop-ins: unknown key; did you mean 'drop_ins'?"),
    ("runcmd:\n  - echo hi\n", "runcmd: unknown key; blackfish applies only: hostname, ssh_authorized_keys, write_files, coreos"),
    ("write-files: []\n", "write-files: unknown key; did you mean 'write_files'?"),
    ("coreos:\n  etcd2: {}\n", "coreos.etcd2: unknown key"),
    ("write_files:\n  - path: /etc/x\n    permissions: 0600\n", "write_files[0].permissions: must be a quoted octal string"),
    ("write_files:\n  - path: etc/x\n", "write_files[0].path: must be an absolute, normalised path"),
    ("write_files:\n  - path: /etc/x\n    encoding: rot13\n", "write_files[0].encoding: unknown encoding 'rot13'"),
    ("write_files:\n  - path: /etc/x\n    mode: '0644'\n", "write_files[0].mode: unknown key"),
    ("coreos:\n  units:\n    - name: a.service\n      command: begin\n", "coreos.units[0].command: unknown command 'begin'"),
    ("coreos:\n  units:\n    - name: eth0.network\n", "network units are not supported"),
    ("coreos:\n  units:\n    - name: a.service\n      enable: yes please\n", "coreos.units[0].enable: expected true or false"),
    ("coreos:\n  units:\n    - name: a.service\n      drop_ins:\n        - name: ../x.conf\n", "drop_ins[0].name: must be a file name ending in .conf"),
])
def test_anything_outside_the_subset_is_an_error_naming_its_place(change, message):
    with pytest.raises(CloudConfigError) as info:
        cloudinit.parse("#cloud-config\n" + change, "nodes/n1/user-data")
    assert info.value.message.startswith("nodes/n1/user-data: ")
    assert message in info.value.message


def test_a_document_without_the_header_is_refused():
    with pytest.raises(CloudConfigError, match="not a cloud-config"):
        cloudinit.parse("hostname: n1\n")


def test_bad_base64_content_is_an_error():
    with pytest.raises(CloudConfigError, match=r"write_files\[0\].content: cannot decode as gzip"):
        cloudinit.parse("#cloud-config\nwrite_files:\n  - path: /x\n    encoding: gzip\n    content: plain\n")


def test_every_rendered_user_data_is_applicable(tmp_path):
    """What render writes for each kind of node is exactly the subset the applier accepts."""
    _, _, nodes = render_yaml("""\
        stack: s1
        admin-network: 10.9.0.0/24
        journald-sink: 10.9.0.200:514
        influxdb-url: http://10.9.0.201:8086
        nodes:
          - ip: 10.9.0.11
            docker-registry: true
          - ip: 10.9.0.12
            lb: true
          - ip: 10.9.0.13
          - ip: 10.9.0.14
        """, tmp_path)
    for node in nodes:
        config = cloudinit.parse(node.path.read_text(), str(node.path))
        assert config.hostname == node.node.name
        assert "blackfish-swarm.service" in {u.name for u in config.units}
        commands = [s.argv for s in cloudinit.plan(config) if isinstance(s, Run) and not s.check]
        # The engine restarts in one job, which brings up its TLS socket (docs/user-data.md).
        assert commands[0] == ("systemctl", "restart", "docker.service")
        assert ("systemctl", "start", "docker-tls-tcp.socket") not in commands
