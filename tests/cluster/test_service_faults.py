"""Faults of the node services (issue 15), in a real node: systemd, journald, the node's dockerd.

One one-node docker-provider stack (bfsvc, 10.244.151.0/24) with `lb: true` and a journald-sink
on this machine's address in the stack's network:
- haproxy (Debian's, in master-worker mode like the official image) under the rendered units
  keeps serving what consul-template last wrote, however fast it writes (fault 3); the test
  rewrites haproxy.cfg the way consul-template does (a new file renamed into place);
- journald-forward loses no entry when the sink drops the connection (fault 5).
"""

from __future__ import annotations

import json
import time

import pytest

from tests.support.service_images import haproxy_image
from tests.support.sink import DroppingSink

pytestmark = pytest.mark.cluster

NAME = "bfsvc"
IP = "10.244.151.11"
CONFIG = "/var/lib/blackfish/haproxy/haproxy.cfg"
# This machine's address on the stack's network (docker gives the bridge the first address).
SINK = ("10.244.151.1", 5140)
NODES_YML = f"""\
stack: {NAME}
provider: docker
admin-network: 10.244.151.0/24
journald-sink: {SINK[0]}:{SINK[1]}
images:
  haproxy: {{haproxy}}
nodes:
  - name: lb1
    ip: {IP}
    lb: true
"""


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(0.5)
    return value


def version_config(version: str) -> str:
    """A whole haproxy.cfg whose one frontend answers with `version`."""
    return ("global\n  log stdout format raw local0 info\n"
            "defaults\n  mode http\n  timeout connect 5s\n  timeout client 10s\n  timeout server 10s\n"
            f"frontend http\n  bind :80\n  http-request return status 200 content-type text/plain string \"{version}\"\n")


def rewrite_script(versions: list[str], pause: float) -> str:
    """sh that writes each version like consul-template: a temporary file, then rename."""
    steps = [f"printf '%s' '{version_config(v)}' > {CONFIG}.new && mv {CONFIG}.new {CONFIG} && sleep {pause}"
             for v in versions]
    return " && ".join(steps)


@pytest.fixture(scope="module")
def stack(make_stack):
    image = haproxy_image()
    stack = make_stack(NAME, NODES_YML.format(haproxy=image, SINK=SINK))
    stack.up()
    stack.ok("load", NAME, image)
    return stack


def served(stack) -> str:
    return stack.on_node("lb1", "curl", "-s", "--max-time", "2", f"http://{IP}/").stdout


def wait_for_answer(stack, wanted: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (answer := served(stack)) != wanted:
        assert time.monotonic() < deadline, f"haproxy answers {answer!r}, not {wanted!r}, after {timeout:.0f} s"
        time.sleep(0.5)


def unit_property(stack, unit: str, name: str) -> str:
    out = stack.on_node("lb1", "systemctl", "show", "--value", "-p", name, unit)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_ten_rewrites_in_two_seconds_end_with_the_last_one_served_and_reloads_keep_working(stack):
    # haproxy's unit retries on its own once the image is loaded; it starts from the built-in config.
    wait_for_answer(stack, "no service answers for this host name", 90)
    restarts = unit_property(stack, "blackfish-haproxy.service", "NRestarts")

    started = time.monotonic()
    burst = stack.on_node("lb1", "sh", "-c", rewrite_script([f"v{i}" for i in range(1, 11)], 0.15))
    assert burst.returncode == 0, burst.stderr
    assert time.monotonic() - started < 2 + 1.5  # the rewrites themselves take 1.5 s (plus the exec)
    wait_for_answer(stack, "v10", 15)

    # The reload path survived the burst, and haproxy was reloaded, never restarted.
    assert unit_property(stack, "blackfish-haproxy-reload.service", "ActiveState") == "active"
    assert unit_property(stack, "blackfish-haproxy.service", "NRestarts") == restarts
    again = stack.on_node("lb1", "sh", "-c", rewrite_script(["v11"], 0))
    assert again.returncode == 0, again.stderr
    wait_for_answer(stack, "v11", 15)


def test_journald_forward_loses_no_entry_when_the_sink_drops_the_connection(stack):
    # The forwarder has run since boot (retrying while nothing listened); its cursor dates from then.
    sink = DroppingSink(SINK, drops=2, after=5, marker="bf-entry-")
    try:
        wait_until(lambda: sink.connections >= 1, 30, "the forwarder to connect")
        wanted = {f"bf-entry-{i}" for i in range(1, 61)}
        write = stack.on_node("lb1", "sh", "-c", "for i in $(seq 1 60); do echo bf-entry-$i | systemd-cat -t bftest; "
                                                 "sleep 0.05; done")
        assert write.returncode == 0, write.stderr

        def received() -> set[str]:
            messages = set()
            for line in list(sink.lines):
                try:
                    messages.add(json.loads(line).get("MESSAGE"))
                except ValueError:
                    pass  # a line cut by a reset
            return messages

        # Two resets, each followed by the unit's 10 s restart delay. The sink may have read every
        # entry before its second reset: the forwarder, never acknowledged, then connects a third time.
        wait_until(lambda: wanted <= received(), 90, f"every entry at the sink; missing: {sorted(wanted - received())}")
        wait_until(lambda: sink.connections >= 3, 60, "the forwarder to connect again after the second reset")
    finally:
        sink.close()
