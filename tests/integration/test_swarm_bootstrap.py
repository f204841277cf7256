"""The rendered swarm-bootstrap forms the planned swarm for real: three hosts in network
namespaces, each running dockerd with its node's rendered certificates and labels, each running
the rendered script the way blackfish-swarm.service does (its EnvironmentFile, then the script),
and each manager its worker-token endpoint the way blackfish-swarm-token.service does."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import needs_netlab
from tests.support.rendered import files, parse_env_file, render_yaml, units, user_data

pytestmark = pytest.mark.integration

SUBNET = "10.242.0.0/24"
STACK = """
    stack: swarm
    provider: docker
    admin-network: 10.242.0.0/24
    labels: {env: test}
    nodes:
      - ip: 10.242.0.11
        roles: [consul-server, swarm-manager]
      - ip: 10.242.0.12
        roles: [swarm-manager]
      - ip: 10.242.0.13
        roles: []
        labels: {rack: r3}
"""
NODE_TLS = "/etc/docker/tls"


class Node:
    """One lab host with its rendered user-data: its engine, and its swarm-bootstrap."""

    def __init__(self, lab, rendered, workdir: Path):
        self.name, self.ip = rendered.node.name, rendered.node.ip
        doc = user_data(rendered)
        written = files(doc)
        self.certs = workdir / self.name / "tls"
        self.certs.mkdir(parents=True)
        for path, content in written.items():
            if path.startswith(NODE_TLS + "/"):  # a manager has its engine-client pair too
                (self.certs / path.rsplit("/", 1)[1]).write_text(content)
        self.script = workdir / self.name / "swarm-bootstrap"
        self.script.write_text(written["/opt/blackfish/bin/swarm-bootstrap"])
        self.script.chmod(0o755)
        self.settings = parse_env_file(written["/etc/blackfish/swarm.env"])
        self.daemon = json.loads(written["/etc/docker/daemon.json"])
        self.token_unit = units(doc).get("blackfish-swarm-token.service")
        self.token_dir = workdir / self.name / "swarm-token"
        self.token_dir.mkdir(mode=0o700)
        self.host = lab.add_host(self.name, self.ip)
        self.engine = None
        self.token_server = None

    def start_engine(self):
        """dockerd with the rendered daemon.json's TLS files and labels (tlscacert: the clients CA)."""
        tls = {key: self.certs / Path(self.daemon[key]).name for key in ("tlscacert", "tlscert", "tlskey")}
        labels = tuple(arg for label in self.daemon["labels"] for arg in ("--label", label))
        self.engine = self.host.start_dockerd(ca=tls["tlscacert"], cert=tls["tlscert"], key=tls["tlskey"], extra=labels)

    def start_token_server(self):
        """A manager's blackfish-swarm-token.service: its ExecStart, run in its WorkingDirectory."""
        exec_start = next(line for line in self.token_unit.splitlines() if line.startswith("ExecStart="))
        argv = [a.replace(NODE_TLS + "/", f"{self.certs}/") for a in shlex.split(exec_start.split("=", 1)[1])]
        self.token_server = self.host.popen(argv, cwd=self.token_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop_token_server(self):
        if self.token_server is not None:
            self.token_server.terminate()
            self.token_server.wait(10)

    def bootstrap_env(self, budget: int, remote_timeout: int) -> dict[str, str]:
        """systemd's environment for the unit: the EnvironmentFile, plus where this host keeps
        what a node has at the default paths (its engine socket, its certificates, its token)."""
        return {**self.settings, "DOCKER_LOCAL_HOST": f"unix://{self.engine.socket}", "DOCKER_CERT_DIR": str(self.certs),
                "TOKEN_DIR": str(self.token_dir),
                "SWARM_RETRY_BUDGET": str(budget), "SWARM_RETRY_MAX_DELAY": "4", "REMOTE_TIMEOUT": str(remote_timeout)}

    def bootstrap(self, budget: int = 180, remote_timeout: int = 20):
        return self.host.popen([str(self.script)], env=self.bootstrap_env(budget, remote_timeout), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process, timeout: float = 300) -> tuple[int, str]:
    _, err = process.communicate(timeout=timeout)
    return process.returncode, err


@contextlib.contextmanager
def bootstrapped(lab_name: str, subnet: str, nodes_yml: str, workdir: Path):
    """A lab host per node of nodes_yml, each with its engine, every swarm-bootstrap run at once
    (as nodes booting together would); yields the stack, the nodes and {name: (exit code, stderr)}."""
    from tests.support.netlab import Lab

    stack, _, rendered = render_yaml(nodes_yml, workdir)
    with Lab(lab_name, subnet) as lab:
        nodes = [Node(lab, r, workdir) for r in rendered]
        try:
            for node in nodes:
                node.start_engine()
                if node.token_unit is not None:
                    node.start_token_server()
            # All at once, as nodes booting together would.
            runs = [(node, node.bootstrap()) for node in nodes]
            results = {node.name: finish(process) for node, process in runs}
            # blackfish-swarm-sync.timer's next run on a manager labels the worker that joined since.
            results["sync"] = finish(nodes[0].bootstrap(budget=60))
            yield stack, nodes, results
        finally:
            for node in nodes:
                node.stop_token_server()


@pytest.fixture(scope="module")
def swarm(tmp_path_factory):
    needs_netlab()
    with bootstrapped("bfsw", SUBNET, STACK, tmp_path_factory.mktemp("swarm")) as booted:
        yield booted


def node_table(manager) -> dict[str, str]:
    """hostname -> MANAGER STATUS ('' for a worker), as `docker node ls` shows them."""
    proc = manager.engine.cli("node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}}")
    assert proc.returncode == 0, proc.stderr
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] if " " in line else "" for line in proc.stdout.splitlines()}


def versions(manager) -> dict[str, str]:
    """Every node's ID and version index: any change to a node bumps its index."""
    ids = manager.engine.cli("node", "ls", "-q").stdout.split()
    proc = manager.engine.cli("node", "inspect", "--format", "{{.Description.Hostname}} {{.ID}} {{.Version.Index}}", *ids)
    return dict(line.split(" ", 1) for line in proc.stdout.splitlines())


def test_the_nodes_form_the_planned_swarm(swarm):
    _, nodes, results = swarm
    for name, (code, err) in results.items():
        assert code == 0, f"{name}: {err}"
    assert "initialising the swarm on 10.242.0.11" in results["swarm-01"][1]
    assert "joining as manager through 10.242.0.11" in results["swarm-02"][1]
    assert "is a swarm worker" in results["swarm-03"][1]
    assert results["sync"][0] == 0, results["sync"][1]
    table = node_table(nodes[1])  # any manager answers
    assert table["swarm-01"] in ("Leader", "Reachable") and table["swarm-02"] in ("Leader", "Reachable")
    assert table["swarm-03"] == ""
    assert set(table) == {"swarm-01", "swarm-02", "swarm-03"}
    labels = nodes[0].engine.cli("node", "inspect", "swarm-03", "--format",
                                 "{{range $k, $v := .Spec.Labels}}{{$k}}={{$v}} {{end}}").stdout.split()
    assert set(labels) == {"io.blackfish.stack=swarm", "io.blackfish.dc=dc1", "io.blackfish.node=swarm-03",
                           "env=test", "rack=r3"}


def test_a_second_run_changes_nothing(swarm):
    _, nodes, _ = swarm
    before = versions(nodes[0])
    for node in nodes:
        code, err = finish(node.bootstrap(budget=60))
        assert code == 0, err
        assert "is a swarm " in err
        assert not any(word in err for word in ("initialising", "joining", "labelling", "promoted")), err
    assert versions(nodes[0]) == before


def engine_call(node, target_ip: str, cert: str, key: str) -> subprocess.CompletedProcess:
    """`docker info` on target's engine from node's host, as node's files allow."""
    return node.host.run(["docker", "-H", f"tcp://{target_ip}:2376", "--tlsverify", "--tlscacert", node.certs / "ca.pem",
                          "--tlscert", node.certs / cert, "--tlskey", node.certs / key, "info", "--format", "{{.Name}}"],
                         timeout=60)


def test_finding_6_a_workers_certificate_is_refused_by_every_other_engine(swarm):
    """Issue 16, finding 6: engines trust the clients CA only. The worker's node certificate (all
    the credentials a worker has) gets no answer from a manager's engine, nor from the other
    worker-side engine; a manager's engine-client certificate does."""
    _, nodes, _ = swarm
    first, second, worker = nodes
    assert not (worker.certs / "client-cert.pem").exists()
    for target in (first, second):
        refused = engine_call(worker, target.ip, "cert.pem", "key.pem")
        assert refused.returncode != 0 and refused.stdout.strip() == ""
        assert "bad certificate" in refused.stderr or "certificate required" in refused.stderr, refused.stderr
    answered = engine_call(second, worker.ip, "client-cert.pem", "client-key.pem")
    assert answered.returncode == 0 and answered.stdout.strip() == worker.name, answered.stderr
    # A manager's node certificate (what consul and the registry see) opens no engine either.
    assert engine_call(second, first.ip, "cert.pem", "key.pem").returncode != 0


def test_a_worker_whose_managers_cannot_lead_retries_then_says_why_it_gave_up(swarm):
    _, nodes, _ = swarm
    first, second, worker = nodes
    assert worker.engine.cli("swarm", "leave").returncode == 0
    first.host.stop_dockerd()  # the other manager alone has no quorum
    code, err = finish(worker.bootstrap(budget=25, remote_timeout=5))
    assert code == 1
    # It tried every manager in turn: their token endpoints answer, the joins cannot complete.
    assert "joining as worker through 10.242.0.11" in err and "joining as worker through 10.242.0.12" in err, err
    last = err.strip().splitlines()[-1]
    assert "gave up after" in last and "node swarm-03 (10.242.0.13) could not become a swarm worker" in last
    assert "managers tried: 10.242.0.11 10.242.0.12" in last
    # Its token endpoint still answers, but the manager left without quorum cannot admit it: the
    # join times out or says the swarm has no leader; either way the reason is named.
    reason = last.split("last error: 10.242.0.12: join: ", 1)[-1]
    assert reason != last and any(why in reason for why in (
        "did not finish within", "Timeout was reached", "does not have a leader", "context deadline exceeded")), last


# --- a first manager that lost its state (issue 15, fault 4) ------------------------------

REJOIN_SUBNET = "10.242.5.0/24"
REJOIN_STACK = """
    stack: rejoin
    provider: docker
    admin-network: 10.242.5.0/24
    nodes:
      - ip: 10.242.5.11
      - ip: 10.242.5.12
      - ip: 10.242.5.13
"""


@pytest.fixture(scope="module")
def three_managers(tmp_path_factory):
    needs_netlab()
    with bootstrapped("bfsr", REJOIN_SUBNET, REJOIN_STACK, tmp_path_factory.mktemp("rejoin")) as (_, nodes, results):
        for name, (code, err) in results.items():
            assert code == 0, f"{name}: {err}"
        yield nodes


def swarm_ids(nodes) -> set[str]:
    return {node.engine.cli("info", "--format", "{{.Swarm.Cluster.ID}}").stdout.strip() for node in nodes}


def test_a_first_manager_that_lost_its_state_while_its_peers_are_slow_rejoins_the_swarm(three_managers):
    first, second, third = three_managers
    (before,) = swarm_ids(three_managers)
    # The first manager comes back with an empty /var/lib/docker (a recreated VM or container).
    first.host.stop_dockerd()
    shutil.rmtree(first.engine.root / "data")
    first.start_engine()
    assert first.engine.cli("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip() == "inactive"
    # Its peers are slow: their engines hold every request while it bootstraps.
    paused = [second.engine.process.pid, third.engine.process.pid]
    for pid in paused:
        os.kill(pid, signal.SIGSTOP)
    try:
        process = first.bootstrap(budget=120, remote_timeout=3)
        time.sleep(15)  # several rounds of asking the silent peers
        assert process.poll() is None, finish(process)[1]
        assert first.engine.cli("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip() == "inactive"
    finally:
        for pid in paused:
            os.kill(pid, signal.SIGCONT)
    code, err = finish(process)
    assert code == 0, err
    assert "not starting a swarm before every manager answers" in err
    assert "initialising" not in err and "joining as manager through" in err
    assert swarm_ids(three_managers) == {before}  # exactly one swarm, the one that was there
    assert first.engine.cli("info", "--format", "{{.Swarm.ControlAvailable}}").stdout.strip() == "true"
    # Its old entry is gone: three managers, none unreachable.
    assert "removed this node's old swarm entry" in err
    listed = second.engine.cli("node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}}").stdout.split("\n")
    assert sorted(line.split()[0] for line in listed if line) == ["rejoin-01", "rejoin-02", "rejoin-03"]
    assert sorted(line.split()[1] for line in listed if line) == ["Leader", "Reachable", "Reachable"]
