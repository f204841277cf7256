"""The docker proxy without a cluster: the remembered manager, the env docker runs with, errors.

Engines here are loopback sockets or addresses where nothing listens; the proxy against real
TLS dockerds is tests/integration/test_proxy_docker.py.
"""

from __future__ import annotations

import socket
import threading
import time
import types

import pytest

from blackfish import home, proxy

from blackfish.proxy import probe
from blackfish.entry import _may_be_stack
from blackfish.state import StateDir
from tests.conftest import assert_no_traceback, blackfish
from tests.support.proxy_stack import recorded_stack


class Listener:
    """A loopback TCP server that answers each connection with `reply` (or stays silent)."""

    def __init__(self, reply: bytes | None = b"HTTP/1.0 400 Bad Request\r\n\r\n"):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.held = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            if self.reply is not None:
                conn.recv(64)
                conn.sendall(self.reply)
                conn.close()

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the serving thread; close() alone would not
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


def test_the_import_light_path_is_the_state_directory(bf_home, monkeypatch):
    assert home.stack_path("vagrant") == str(StateDir("vagrant").path) == str(bf_home / "vagrant")
    assert not home.has_record("vagrant")
    StateDir("vagrant").save_record({})
    assert home.has_record("vagrant")
    monkeypatch.delenv("BLACKFISH_HOME")
    assert home.stack_path("vagrant") == str(StateDir("vagrant").path)


def test_the_warm_path_names_the_state_files_as_the_state_directory_does():
    from blackfish import state

    assert proxy.CACHE == state.PROXY_CACHE
    assert proxy.CLIENT_FILES == (state.CA_CERT, state.CLIENT_CERT, state.CLIENT_KEY)


def test_docker_runs_with_the_managers_tls_env_and_without_the_users_context():
    manager = proxy.Manager("n2", "10.0.0.12", 2376)
    env = proxy.exec_env(manager, "/state/s", environ={
        "PATH": "/usr/bin", "DOCKER_CONTEXT": "laptop", "DOCKER_HOST": "unix:///var/run/docker.sock", "DOCKER_CONFIG": "/c"})
    assert env == {
        "PATH": "/usr/bin", "DOCKER_CONFIG": "/c",
        "DOCKER_HOST": "tcp://10.0.0.12:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "/state/s",
    }


def test_a_remembered_manager_is_reused_while_fresh_and_answering(bf_home, listener):
    _, state = recorded_stack("s", ("10.243.0.11",), "10.243.0.0/24", pki=False)
    proxy.remember(state, proxy.Manager("s-01", "127.0.0.1", listener.port))
    assert (state.file(proxy.CACHE).stat().st_mode & 0o777) == 0o600
    again = proxy.remembered(str(state.path))
    assert (again.name, again.docker_host) == ("s-01", f"tcp://127.0.0.1:{listener.port}")


def test_a_remembered_manager_expires(bf_home, listener):
    _, state = recorded_stack("s", ("10.243.0.11",), "10.243.0.0/24", pki=False)
    proxy.remember(state, proxy.Manager("s-01", "127.0.0.1", listener.port))
    assert proxy.remembered(str(state.path), now=time.time() + proxy.CACHE_TTL + 1) is None


def test_a_changed_stack_record_forgets_the_manager(bf_home, listener):
    stack, state = recorded_stack("s", ("10.243.0.11",), "10.243.0.0/24", pki=False)
    proxy.remember(state, proxy.Manager("s-01", "127.0.0.1", listener.port))
    time.sleep(0.01)
    state.save_record({**state.record(), "provider": "virtualbox"})
    assert proxy.remembered(str(state.path)) is None


def test_a_remembered_manager_that_stopped_is_not_used(bf_home):
    _, state = recorded_stack("s", ("10.243.0.11",), "10.243.0.0/24", pki=False)
    server = Listener()
    proxy.remember(state, proxy.Manager("s-01", "127.0.0.1", server.port))
    server.close()
    assert proxy.remembered(str(state.path)) is None
    assert not state.file(proxy.CACHE).exists()  # the probe that follows does not check it again


def test_an_engine_that_accepts_but_never_answers_is_not_alive():
    silent = Listener(reply=None)
    try:
        started = time.monotonic()
        assert not proxy.answers(proxy.Manager("s-01", "127.0.0.1", silent.port), timeout=0.3)
        assert time.monotonic() - started < 2
    finally:
        silent.close()


@pytest.mark.parametrize("content", ["", "garbage\n", "blackfish-proxy-cache/0 n 127.0.0.1 1 2 3\n", "\x00\xff"])
def test_an_unreadable_cache_means_probing(bf_home, content):
    _, state = recorded_stack("s", ("10.243.0.11",), "10.243.0.0/24", pki=False)
    state.write(proxy.CACHE, content)
    assert proxy.remembered(str(state.path)) is None


def test_only_a_plain_first_word_can_be_a_proxy_call():
    assert _may_be_stack("vagrant")
    assert not _may_be_stack("init")  # a blackfish command
    assert not _may_be_stack("--debug")
    assert not _may_be_stack("../etc")
    assert not _may_be_stack("a/b")


@pytest.mark.parametrize("args", [["--", "ps"], ["run", "--rm", "-it", "img", "--", "sh"], ["--help"], ["-H", "x", "ps"], []])
def test_the_command_line_parser_passes_docker_arguments_verbatim(bf_home, monkeypatch, args):
    # blackfish.entry execs with exactly these arguments; the click path must not differ.
    from blackfish.cli import cli

    recorded_stack("s", ("127.0.0.2",), "127.0.0.0/8", pki=False)
    calls = []
    monkeypatch.setattr(proxy, "exec_docker", lambda stack, docker_args: calls.append((stack, docker_args)))
    cli.main(args=["--debug", "s", *args], standalone_mode=False)
    assert calls == [("s", args)]


def test_no_manager_answering_exits_3_naming_each(bf_home):
    # Nothing listens on 127.0.0.2-3:2376, so each manager refuses at once.
    recorded_stack("s", ("127.0.0.2", "127.0.0.3"), "127.0.0.0/8")
    result = blackfish("s", "ps")
    assert result.returncode == 3, result.stderr
    assert "no manager of stack 's' answers" in result.stderr
    assert "s-01 (tcp://127.0.0.2:2376): connection refused" in result.stderr
    assert "s-02 (tcp://127.0.0.3:2376): connection refused" in result.stderr
    assert_no_traceback(result)


def test_a_missing_docker_cli_exits_3_with_how_to_install_it(bf_home, tmp_path):
    recorded_stack("s", ("127.0.0.2",), "127.0.0.0/8")
    result = blackfish("s", "ps", env={"PATH": str(tmp_path)})
    assert result.returncode == 3
    assert "docker CLI is not installed" in result.stderr and "apt-get install docker.io" in result.stderr
    assert_no_traceback(result)


def test_a_stack_without_its_client_certificate_says_what_to_run(bf_home):
    recorded_stack("s", ("127.0.0.2",), "127.0.0.0/8", pki=False)
    result = blackfish("env", "s")
    assert result.returncode == 1
    assert "no client certificate" in result.stderr and "blackfish up s" in result.stderr
    assert_no_traceback(result)


def test_env_and_context_of_an_unknown_stack_exit_2(bf_home):
    for command in ("env", "context"):
        result = blackfish(command, "nope")
        assert result.returncode == 2, result.stderr
        assert "stack 'nope' has no state" in result.stderr


def test_env_needs_a_stack_unless_unsetting(bf_home):
    assert blackfish("env").returncode == 2
    result = blackfish("env", "--unset", "--shell", "bash")
    assert result.returncode == 0
    assert "unset DOCKER_HOST\nunset DOCKER_TLS_VERIFY\nunset DOCKER_CERT_PATH\n" in result.stdout


def _node(port: int):
    return types.SimpleNamespace(name="n1", docker_host=f"tcp://127.0.0.1:{port}")


def test_probe_reports_a_refused_connection_in_one_line(bf_home):
    _, state = recorded_stack("s", ("127.0.0.2",), "127.0.0.0/8")
    server = Listener()
    server.close()
    answer = probe.probe(_node(server.port), str(state.path), timeout=1)
    assert not answer.reachable and answer.error == "connection refused"


def test_probe_reports_a_silent_engine_as_a_timeout(bf_home):
    _, state = recorded_stack("s", ("127.0.0.2",), "127.0.0.0/8")
    silent = Listener(reply=None)
    try:
        answer = probe.probe(_node(silent.port), str(state.path), timeout=0.3)
    finally:
        silent.close()
    assert answer.error == "no answer within 0.3 s"


def test_probe_rejects_an_engine_with_another_stacks_certificate(bf_home, tmp_path):
    import ssl

    _, state = recorded_stack("s", ("127.0.0.2",), "127.0.0.0/8")
    _, other = recorded_stack("other", ("127.0.0.1",), "127.0.0.0/8")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(other.file("nodes/other-01.cert.pem"), other.file("nodes/other-01.key.pem"))
    server = socket.create_server(("127.0.0.1", 0))

    def serve():
        conn, _ = server.accept()
        try:
            context.wrap_socket(conn, server_side=True).close()
        except (ssl.SSLError, OSError):
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    answer = probe.probe(_node(server.getsockname()[1]), str(state.path), timeout=2)
    server.close()
    assert answer.error.startswith("TLS handshake failed: certificate verify failed"), answer.error
