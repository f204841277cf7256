"""The rendered await-image with the real engine, docker CLI and curl: a system service whose
image cannot be pulled waits (trying the pull with a backoff) instead of failing and restarting,
and starts as soon as the image is on the engine, the way `blackfish load` puts it there."""

from __future__ import annotations

import subprocess
import time
import uuid

import pytest

from blackfish.render.templates_dir import builtin_templates
from tests.conftest import needs_docker
from tests.support.images import busybox_image
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

AWAIT_IMAGE = builtin_templates() / "files" / "await-image"


def test_a_service_waits_for_its_image_and_starts_once_it_is_loaded(tmp_path):
    needs_docker()
    # A registry on loopback that refuses: the pull fails at once, and nothing leaves this machine.
    image = f"127.0.0.1:9/blackfish-test/await-image:{uuid.uuid4().hex[:12]}"
    started, journal = tmp_path / "started", tmp_path / "journal"
    with open(journal, "w") as stderr:
        waiter = subprocess.Popen(["sh", str(AWAIT_IMAGE), image, "sh", "-c", f"echo \"$0\" > {started}", "container ran"],
                                  env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LOOK_INTERVAL": "0.2", "PULL_MAX_DELAY": "1"},
                                  stderr=stderr)
    try:
        wait_for(lambda: "cannot pull" in journal.read_text(), 30, "await-image to report the failed pull")
        time.sleep(3)  # a pull a second (PULL_MAX_DELAY=1): a few more failed pulls
        assert waiter.poll() is None and not started.exists()
        subprocess.run(["docker", "tag", busybox_image(), image], check=True)
        assert waiter.wait(timeout=30) == 0
        assert started.read_text() == "container ran\n"
    finally:
        waiter.kill()
        subprocess.run(["docker", "rmi", image], capture_output=True)
    said = journal.read_text()
    assert said.count("await-image: cannot pull") == 1, said  # once, however often the pull failed the same way
    assert f"cannot pull {image} yet (" in said and "connection refused" in said, said


def test_a_present_image_starts_at_once(tmp_path):
    needs_docker()
    ran = subprocess.run(["sh", str(AWAIT_IMAGE), busybox_image(), "echo", "ran"], capture_output=True, text=True,
                         timeout=30, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "ran\n", "")
