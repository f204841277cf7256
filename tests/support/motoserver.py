"""A real AWS API on this machine: moto in server mode on 127.0.0.1, reached over HTTP by
real boto3 through AWS_ENDPOINT_URL (nothing patched), with fake credentials.

The server runs as Flatcar's account (MOTO_ACCOUNT_ID=075585003325), so images registered in
it are owned by the account blackfish searches for Flatcar AMIs.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

FLATCAR_ACCOUNT = "075585003325"
REGION = "eu-west-1"
# What boto3 needs to talk to the local server, and nothing that could reach AWS.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "fake-secret-for-moto",
                    "AWS_DEFAULT_REGION": REGION,
                    # Never ask a metadata service for credentials: there is none to ask here.
                    "AWS_EC2_METADATA_DISABLED": "true"}


def moto_server_binary() -> str | None:
    beside = Path(sys.executable).parent / "moto_server"
    return str(beside) if beside.exists() else shutil.which("moto_server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoServer:
    def __init__(self, log: Path):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> "MotoServer":
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["MOTO_ACCOUNT_ID"] = FLATCAR_ACCOUNT
        with open(self.log, "w") as log:
            self.process = subprocess.Popen([moto_server_binary(), "-H", "127.0.0.1", "-p", str(self.port)],
                                            stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited: {self.log.read_text()}")
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2).close()
                return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"moto_server did not answer on {self.endpoint}: {self.log.read_text()}")

    def reset(self) -> None:
        """Forget every resource (between tests sharing the server)."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()

    def env(self) -> dict[str, str]:
        """The environment that points boto3 (in this process or a blackfish CLI) at the server."""
        return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
