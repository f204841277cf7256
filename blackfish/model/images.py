"""The container images of the system services, pinned in one place.

Overridable per stack with `images:` in nodes.yml; `blackfish box images` prints the
resolved list, which packer/ reads to pre-pull exactly these into a box.
"""

from __future__ import annotations

PINNED: dict[str, str] = {
    "consul": "hashicorp/consul:2.0.3",
    # gliderlabs/registrator (v7, 2016) is a schema-1 image that Docker >= 28 refuses to
    # pull (gliderlabs/registrator#694); fayrus/registrator is its maintained fork, multi-arch
    # OCI images, and speaks consul-tls:// with CONSUL_CACERT/CONSUL_CLIENT_CERT/CONSUL_CLIENT_KEY.
    "registrator": "fayrus/registrator:v9.0.2",
    "registry": "registry:3.1.1",
    "haproxy": "haproxy:3.2.24-alpine",
    "consul-template": "hashicorp/consul-template:0.41.3",
    "telegraf": "telegraf:1.39.2-alpine",
}

SERVICES: tuple[str, ...] = tuple(PINNED)


def resolve(overrides: dict[str, str]) -> dict[str, str]:
    """The pinned images with a stack's `images:` overrides applied."""
    return {**PINNED, **overrides}
