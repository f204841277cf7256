"""The container images of the system services, pinned in one place.

Overridable per stack with `images:` in nodes.yml; `blackfish box images` prints the
resolved list, which packer/ reads to pre-pull exactly these into a box.
"""

from __future__ import annotations

PINNED: dict[str, str] = {
    "consul": "hashicorp/consul:1.21.4",
    "registrator": "gliderlabs/registrator:v7",
    "registry": "registry:3.0.0",
    "haproxy": "haproxy:3.2.4-alpine",
    "consul-template": "hashicorp/consul-template:0.41.1",
    "telegraf": "telegraf:1.35.4",
}

SERVICES: tuple[str, ...] = tuple(PINNED)


def resolve(overrides: dict[str, str]) -> dict[str, str]:
    """The pinned images with a stack's `images:` overrides applied."""
    return {**PINNED, **overrides}
