"""`registry-storage:` in nodes.yml: the store several registry nodes share.

`registry.service.<stack>` resolves to every docker-registry node, so with each node on its own
disk a push to one and a pull from another fail (distribution requires shared storage behind a
load balancer). More than one registry node in a stack therefore needs `registry-storage:`, one
of distribution's drivers that several registries can share, rendered as the `storage:` section
of templates/files/registry.yml.j2. Kept apart from config.py so that providers which bring their
own store (an S3 bucket for AWS stacks) can build on it without touching the schema module.
"""

from __future__ import annotations

from blackfish.model import aws
from blackfish.model.config import default_roles

# distribution's storage drivers that several registry nodes can share (a local filesystem cannot).
SHARED_STORAGE_DRIVERS = ("s3", "gcs", "azure", "swift", "oss")
_REQUIRED_STORAGE_PARAMS = {"s3": ("bucket", "region"), "gcs": ("bucket",), "azure": ("container",),
                            "swift": ("container",), "oss": ("bucket",)}


def has_shared_store(config) -> bool:
    """`registry-storage:`, or provider aws with `s3bucket:` (its registries store in that bucket)."""
    return config.registry_storage is not None or (config.provider == aws.PROVIDER and config.s3bucket is not None)


def registry_nodes(config) -> list[int]:
    return [i for i in range(len(config.nodes)) if "docker-registry" in default_roles(config, i)]


def shared_storage_problem(stack: str, registries: int) -> str:
    return (f"{registries} docker-registry nodes need shared storage: registry.service.{stack} resolves to every "
            "one of them, so with each on its own disk a push to one and a pull from another fail; "
            f"set registry-storage (one of: {', '.join(SHARED_STORAGE_DRIVERS)}), or keep one registry node")


def registry_role_path(config, index: int) -> list:
    """Where nodes.yml gives node `index` the docker-registry role (for the error's place)."""
    spec = config.nodes[index]
    if spec.roles is not None and "docker-registry" in spec.roles:
        return ["nodes", index, "roles", spec.roles.index("docker-registry")]
    return ["nodes", index, "docker-registry"]


def check(config, bad) -> None:
    """The `registry-storage:` key itself (the count of registry nodes is checked per stack, in groups.py)."""
    storage = config.registry_storage
    if storage is not None:
        if len(storage) != 1:
            bad(["registry-storage"], f"name exactly one storage driver (one of: {', '.join(SHARED_STORAGE_DRIVERS)})")
        for driver, params in storage.items():
            if driver not in SHARED_STORAGE_DRIVERS:
                bad(["registry-storage", driver], f"{driver!r} is not a shared storage driver; expected one of: "
                    f"{', '.join(SHARED_STORAGE_DRIVERS)}", key=True)
                continue
            for param in _REQUIRED_STORAGE_PARAMS[driver]:
                if not str(params.get(param, "")).strip():
                    bad(["registry-storage", driver], f"the {driver} driver needs {param!r}", key=True)
