"""System-service images for the cluster tests, built from Debian packages (no registry here).

haproxy_image(): Debian's haproxy, started the way the official image starts it (master-worker,
-W, in the foreground, reading /usr/local/etc/haproxy/haproxy.cfg), so SIGUSR2 reloads it.
"""

from __future__ import annotations

from tests.support.images import debian_image

HAPROXY_IMAGE = "blackfish-test/haproxy:2"


def haproxy_image() -> str:
    return debian_image(HAPROXY_IMAGE, ["haproxy"], changes=(
        'CMD ["/usr/sbin/haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]',))
