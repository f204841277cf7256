"""A real HTTPS server on 127.0.0.1 with a given certificate, and clients that use only default trust.

serve(cert, key, body) runs Python's http.server behind ssl in a thread and yields its port.
clean_env() is os.environ without the variables that point TLS clients at a CA bundle
(SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, ...), so a client uses its built-in default.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import ssl
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

_CA_VARIABLES = ("CERT", "CA_BUNDLE", "CAINFO", "CA_CERTS", "ROOTS_FILE")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not any(part in k for part in _CA_VARIABLES)}
    env.update(extra)
    return env


@contextlib.contextmanager
def serve(cert: Path, key: Path, body: str) -> Iterator[int]:
    page = body.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    # A client that gives up on the certificate leaves a half-open handshake: don't log it.
    server.handle_error = lambda request, address: None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def curl(name: str, port: int) -> subprocess.CompletedProcess:
    """curl https://name:port/ with name mapped to 127.0.0.1 and no --cacert."""
    return subprocess.run(
        ["curl", "-sS", "--max-time", "20", "--resolve", f"{name}:{port}:127.0.0.1", f"https://{name}:{port}/"],
        capture_output=True, text=True, env=clean_env(),
    )


_PYTHON_CLIENT = """
import socket, ssl, sys
name, port = sys.argv[1], int(sys.argv[2])
context = ssl.create_default_context()
with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
    with context.wrap_socket(raw, server_hostname=name) as tls:
        tls.sendall(f"GET / HTTP/1.0\\r\\nHost: {name}\\r\\n\\r\\n".encode())
        print(tls.makefile("rb").read().decode(errors="replace"))
"""


def python_default_context(name: str, port: int) -> subprocess.CompletedProcess:
    """A fresh Python process connecting with ssl.create_default_context() and a clean environment."""
    return subprocess.run([sys.executable, "-c", _PYTHON_CLIENT, name, str(port)],
                          capture_output=True, text=True, env=clean_env(), timeout=60)
