"""The node scripts run by real shells: dash (Debian's sh), bash (Flatcar's sh) and busybox sh."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from blackfish.render.templates_dir import builtin_templates
from tests.conftest import needs_tool

FILES = builtin_templates() / "files"
SHELLS = [s for s in ("dash", "bash", "busybox") if shutil.which(s)]
POSIX_SCRIPTS = ("swarm-bootstrap", "blackfish-hosts", "haproxy-reload", "drop-vagrant-keys", "await-image")


def shell_argv(shell: str) -> list[str]:
    return ["busybox", "sh"] if shell == "busybox" else [shell]


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("script", POSIX_SCRIPTS)
def test_posix_scripts_parse_in_every_shell(shell, script):
    proc = subprocess.run([*shell_argv(shell), "-n", str(FILES / script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (FILES / script).read_text().startswith("#!/bin/sh\n")


def test_journald_forward_is_bash_and_says_when_the_sink_is_unreachable(tmp_path):
    needs_tool("bash")
    script = FILES / "journald-forward"
    assert script.read_text().startswith("#!/bin/bash\n")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "JOURNALD_SINK": f"127.0.0.1:{port}", "JOURNALD_CURSOR": str(tmp_path / "c")})
    assert proc.returncode != 0 and "Connection refused" in proc.stderr
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=30,
                          env={k: v for k, v in os.environ.items() if k != "JOURNALD_SINK"})
    assert proc.returncode != 0 and "JOURNALD_SINK is not set" in proc.stderr


@pytest.mark.parametrize("shell", SHELLS)
def test_blackfish_hosts_keeps_one_block_and_the_rest_of_the_file(shell, tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n::1 localhost ip6-localhost\n")
    entries = tmp_path / "entries"
    entries.write_text("10.0.0.1 registry.service.s\n")
    run = lambda: subprocess.run([*shell_argv(shell), str(FILES / "blackfish-hosts"), str(entries), str(hosts)],
                                 capture_output=True, text=True, check=True)
    run()
    expected = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n# blackfish begin\n10.0.0.1 registry.service.s\n# blackfish end\n"
    assert hosts.read_text() == expected
    inode, mtime = hosts.stat().st_ino, hosts.stat().st_mtime_ns
    run()
    assert hosts.read_text() == expected and hosts.stat().st_mtime_ns == mtime  # unchanged: not rewritten
    entries.write_text("10.0.0.2 registry.service.s\n")
    hosts.write_text(hosts.read_text() + "192.168.1.5 printer\n")
    run()
    assert hosts.read_text() == ("127.0.0.1 localhost\n::1 localhost ip6-localhost\n192.168.1.5 printer\n"
                                 "# blackfish begin\n10.0.0.2 registry.service.s\n# blackfish end\n")
    assert hosts.stat().st_ino == inode  # rewritten in place: /etc/hosts may be a bind mount


def test_blackfish_hosts_replaces_a_link_into_a_read_only_place(tmp_path):
    target = tmp_path / "usr-hosts"
    target.write_text("127.0.0.1 localhost\n")
    hosts = tmp_path / "hosts"
    hosts.symlink_to(target)
    entries = tmp_path / "entries"
    entries.write_text("10.0.0.1 registry.service.s\n")
    subprocess.run(["sh", str(FILES / "blackfish-hosts"), str(entries), str(hosts)], check=True)
    assert not hosts.is_symlink() and target.read_text() == "127.0.0.1 localhost\n"
    assert hosts.read_text().startswith("127.0.0.1 localhost\n# blackfish begin\n")


@pytest.mark.parametrize("shell", SHELLS)
def test_swarm_bootstrap_refuses_bad_settings(shell, tmp_path):
    script = [*shell_argv(shell), str(FILES / "swarm-bootstrap")]
    base = {"PATH": os.environ["PATH"], "NODE_IP": "10.0.0.1", "MANAGERS": "10.0.0.1", "FIRST_MANAGER": "10.0.0.1"}
    proc = subprocess.run(script, capture_output=True, text=True, env={**base, "ROLE": "boss"})
    assert proc.returncode == 2 and "ROLE must be manager or worker, not 'boss'" in proc.stderr
    proc = subprocess.run(script, capture_output=True, text=True, env={**base, "ROLE": "worker", "MANAGERS": ""})
    assert proc.returncode != 0 and "MANAGERS is not set" in proc.stderr


def test_swarm_bootstrap_gives_up_on_a_dead_local_engine_within_its_budget(tmp_path):
    env = {"PATH": os.environ["PATH"], "SWARM_ENV": str(tmp_path / "swarm.env"),
           "DOCKER_LOCAL_HOST": f"unix://{tmp_path}/absent.sock", "SWARM_RETRY_BUDGET": "3"}
    (tmp_path / "swarm.env").write_text('NODE_NAME="n1"\nNODE_IP="10.0.0.1"\nROLE="manager"\n'
                                        'FIRST_MANAGER="10.0.0.1"\nMANAGERS="10.0.0.1"\n')
    needs_tool("docker", "docker.io")
    proc = subprocess.run(["sh", str(FILES / "swarm-bootstrap")], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1
    assert "gave up after" in proc.stderr and "node n1 (10.0.0.1) could not become a swarm manager" in proc.stderr
    assert f"the local engine (unix://{tmp_path}/absent.sock) does not answer" in proc.stderr


# A docker CLI stand-in for the one failure a real engine cannot be made to show on demand:
# a manager that answers `info` but never hands out a join token. The local engine is up and
# in no swarm.
HANGING_MANAGER = """#!/bin/sh
case "$*" in
  *"swarm join-token"*) exec sleep 30 ;;
  "-H tcp://"*"Swarm.ControlAvailable"*) echo true ;;
  *"Swarm.LocalNodeState"*) echo inactive false ;;
esac
"""


# Not busybox: its built-in `timeout` does not exit 124; Flatcar and Debian have coreutils'.
@pytest.mark.parametrize("shell", [s for s in SHELLS if s != "busybox"])
def test_swarm_bootstrap_says_a_manager_did_not_answer_in_time(shell, tmp_path):
    (tmp_path / "docker").write_text(HANGING_MANAGER)
    (tmp_path / "docker").chmod(0o755)
    # A second manager: it asks the first one's engine for the manager join token.
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}", "NODE_NAME": "m2", "NODE_IP": "10.0.0.2", "ROLE": "manager",
           "FIRST_MANAGER": "10.0.0.1", "MANAGERS": "10.0.0.1 10.0.0.2", "SWARM_RETRY_BUDGET": "2", "REMOTE_TIMEOUT": "1"}
    proc = subprocess.run([*shell_argv(shell), str(FILES / "swarm-bootstrap")], capture_output=True, text=True,
                          env=env, timeout=60)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert "gave up after" in last and last.endswith("last error: 10.0.0.1: join-token: no answer within 1 s"), proc.stderr


# A docker CLI stand-in for a join that failed on a slow machine: the engine reports swarm
# state 'error' (it never leaves it by itself) until `swarm leave --force`. Every call is
# logged; the state lives in a file.
FAILED_JOIN = """#!/bin/sh
echo "$*" >>"$STANDIN/calls"
case "$*" in
  "-H tcp://"*"Swarm.ControlAvailable"*) echo true ;;
  "-H tcp://"*"swarm join-token -q manager") echo SWMTKN-1-manager ;;
  *"Swarm.LocalNodeState"*) echo "$(cat "$STANDIN/state") $(cat "$STANDIN/control") n2id" ;;
  *"swarm leave --force") echo inactive >"$STANDIN/state" ;;
  *"swarm join --token SWMTKN-1-manager"*) echo active >"$STANDIN/state"; echo true >"$STANDIN/control" ;;
  *"swarm join-token -q worker") echo SWMTKN-1-worker ;;
esac
"""


def run_with_standin(shell: str, tmp_path, standin: str, name: str, ip: str) -> subprocess.CompletedProcess:
    """swarm-bootstrap as manager NAME at IP of a two-manager stack, with `standin` as its docker
    CLI (which logs each call to tmp_path/calls)."""
    (tmp_path / "docker").write_text(standin)
    (tmp_path / "docker").chmod(0o755)
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}", "STANDIN": str(tmp_path), "NODE_NAME": name,
           "NODE_IP": ip, "ROLE": "manager", "FIRST_MANAGER": "10.0.0.1", "MANAGERS": "10.0.0.1 10.0.0.2",
           "SWARM_RETRY_BUDGET": "20", "TOKEN_DIR": str(tmp_path / "token")}
    return subprocess.run([*shell_argv(shell), str(FILES / "swarm-bootstrap")], capture_output=True, text=True,
                          env=env, timeout=60)


@pytest.mark.parametrize("shell", [s for s in SHELLS if s != "busybox"])
def test_swarm_bootstrap_leaves_a_failed_join_and_joins_again(shell, tmp_path):
    (tmp_path / "state").write_text("error\n")
    (tmp_path / "control").write_text("false\n")
    proc = run_with_standin(shell, tmp_path, FAILED_JOIN, "m2", "10.0.0.2")
    assert proc.returncode == 0, proc.stderr
    assert "the join failed (swarm state 'error'); left the swarm to join again" in proc.stderr
    assert proc.stderr.strip().endswith("node m2 (10.0.0.2) is a swarm manager, node id n2id")
    calls = (tmp_path / "calls").read_text().splitlines()
    leave = calls.index("-H unix:///var/run/docker.sock swarm leave --force")
    assert any("swarm join --token SWMTKN-1-manager" in call for call in calls[leave:])
    assert (tmp_path / "token" / "worker-token").read_text() == "SWMTKN-1-worker\n"


# A docker CLI stand-in for an active first manager whose swarm holds the entries of two joins
# that have no hostname yet: one created 20 minutes ago (a join that failed; the joining node
# came back under a new ID), one 5 s ago (a join in progress).
ABANDONED_JOIN = """#!/bin/sh
echo "$*" >>"$STANDIN/calls"
now=$(date +%s)
case "$*" in
  *"Swarm.LocalNodeState"*) echo "active true m1id" ;;
  *"node ls -q") printf 'm1id\\nfailedjoin\\njoining\\n' ;;
  *"node ls --format"*) echo "m1id m1 Leader" ;;
  *"node inspect m1id failedjoin joining"*)
    echo "m1id ready $((now - 1200)) h=m1 +io.blackfish.node=m1 =io.blackfish.node=m1"
    echo "failedjoin unknown $((now - 1200)) h="
    echo "joining unknown $((now - 5)) h=" ;;
  *"swarm join-token -q worker") echo SWMTKN-1-worker ;;
esac
"""


@pytest.mark.parametrize("shell", [s for s in SHELLS if s != "busybox"])
def test_swarm_bootstrap_removes_the_entry_of_a_join_that_never_finished(shell, tmp_path):
    proc = run_with_standin(shell, tmp_path, ABANDONED_JOIN, "m1", "10.0.0.1")
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    removed = [call.rsplit(" ", 1)[-1] for call in calls if " node rm --force " in call]
    assert removed == ["failedjoin"], calls
    assert re.search(r"removed swarm entry failedjoin: a join that never finished \(unknown, no hostname, 120\d s old\)",
                     proc.stderr), proc.stderr
    assert not any(" node update " in call for call in calls), calls  # m1's labels are already in place


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.parametrize("shell", SHELLS)
def test_haproxy_reload_loads_the_last_of_a_burst_of_rewrites_and_retries_a_failed_reload(shell, tmp_path):
    """The watcher's contract, with a reload command that copies what it 'loads' (the real haproxy
    in a systemd node: tests/cluster/test_service_faults.py)."""
    config, loaded, broken = tmp_path / "haproxy.cfg", tmp_path / "loaded", tmp_path / "broken"
    config.write_text("v0\n")
    # Fails while `broken` exists, like `docker kill` while haproxy's container is down.
    tries = tmp_path / "tries"
    reload = f'echo >>{tries}; test ! -e {broken} && cp {config} {loaded}.tmp && mv {loaded}.tmp {loaded}'
    watcher = subprocess.Popen([*shell_argv(shell), str(FILES / "haproxy-reload"), "sh", "-c", reload],
                               env={**os.environ, "HAPROXY_CONFIG": str(config), "RELOAD_INTERVAL": "0.1"},
                               stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: loaded.exists() and loaded.read_text() == "v0\n")
        for i in range(1, 11):  # consul-template's way: a new file renamed into place
            (tmp_path / "new").write_text(f"v{i}\n")
            (tmp_path / "new").rename(config)
            time.sleep(0.02)
        assert wait_until(lambda: loaded.read_text() == "v10\n")
        broken.touch()
        tried = len(tries.read_text())
        config.write_text("v11\n")
        time.sleep(3)  # 30 looks
        assert loaded.read_text() == "v10\n"
        # Tried after 1, 2, 4, 8 and 16 looks: not on each of the 30.
        assert len(tries.read_text()) - tried <= 6
        broken.unlink()
        assert wait_until(lambda: loaded.read_text() == "v11\n")
        assert watcher.poll() is None
    finally:
        watcher.terminate()
        _, err = watcher.communicate(timeout=10)
    assert err.count("reload failed") == 1, err  # said once, not once per look
