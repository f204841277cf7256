"""One docker-provider node: its names, the container that runs it, and reaching into it.

A node is a container running systemd as PID 1 and a docker engine whose data lives in a
named volume. `container_options()` is the whole container definition as a pure function;
the privilege decision is the provider's: `--privileged`, unless `privileged_refused()` knows
it cannot work or `create_and_start()` raises PrivilegeRefused ("unable to apply caps", as when
the host's capability bounding set lacks a capability); then the explicit equivalent: every
capability the host has, seccomp and apparmor unconfined, all devices, a writable /sys/fs/cgroup.
"""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path

from blackfish.render.cloudinit import Entry
from blackfish.errors import ProviderError
from blackfish.model.stack import Node, Stack

LABEL_STACK = "io.blackfish.stack"
LABEL_NODE = "io.blackfish.node"
DOCKER_DATA = "/var/lib/docker"
SYSTEMD_BOOT_TIMEOUT = 60.0
# The provider's note of what it applied: a restarted node whose user-data has not changed
# since boots from what is on its disk, like a rebooted VM, without a second round of restarts.
APPLIED = "/var/lib/blackfish/applied-user-data.sha256"

# Bit n of /proc/self/status CapBnd is the capability named here at index n (linux/capability.h).
CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE",
)

# On a cgroup v2 host the node gets its own cgroup namespace, mounted read-only unless
# privileged; systemd needs it writable. Plain sh, so any Debian image with systemd boots.
BOOT = ("if grep -q ' /sys/fs/cgroup cgroup2 ro' /proc/mounts; then mount -o remount,rw /sys/fs/cgroup; fi; "
        "exec /sbin/init")

_CAPS_REFUSED = "unable to apply caps"


def container_name(stack: Stack, node: Node) -> str:
    return f"{stack.name}-{node.name}"


def network_name(stack: Stack) -> str:
    return f"blackfish-{stack.name}"


def volume_name(stack: Stack, node: Node) -> str:
    return f"blackfish-{stack.name}-{node.name}-docker"


def labels(stack: Stack, node: Node | None = None) -> dict[str, str]:
    return {LABEL_STACK: stack.name, **({LABEL_NODE: node.name} if node else {})}


def host_capabilities(status: str | None = None) -> list[str]:
    """The capabilities in this process's bounding set (all known ones when /proc has none)."""
    if status is None:
        try:
            status = Path("/proc/self/status").read_text()
        except OSError:
            return list(CAPABILITIES)
    for line in status.splitlines():
        if line.startswith("CapBnd:"):
            mask = int(line.split()[1], 16)
            return [name for bit, name in enumerate(CAPABILITIES) if mask >> bit & 1]
    return list(CAPABILITIES)


def missing_capabilities(present: list[str]) -> list[str]:
    return [name for name in CAPABILITIES if name not in present]


def privileged_refused(engine_url: str, status: str | None = None) -> bool:
    """True where --privileged cannot work, so trying it would only cost a container: the
    engine is this machine's (its unix socket) and this machine's capability bounding set lacks
    a capability, which runc then cannot grant ("unable to apply caps"). Elsewhere only trying tells."""
    return engine_url == "http+docker://localhost" and bool(missing_capabilities(host_capabilities(status)))


def container_options(stack: Stack, node: Node, image: str, *, privileged: bool, cgroup_version: int,
                      capabilities: list[str] | None = None, hostname: str | None = None) -> dict:
    """Keyword arguments for docker's `containers.create` (the docker SDK) for one node."""
    options = dict(
        image=image,
        name=container_name(stack, node),
        hostname=hostname or node.name,
        labels=labels(stack, node),
        entrypoint=["/bin/sh", "-c", BOOT],
        command=[],
        detach=True,
        environment={"container": "docker"},
        stop_signal="SIGRTMIN+3",
        tmpfs={"/run": "rw,nosuid,nodev,mode=755", "/run/lock": "rw,nosuid,nodev,noexec"},
        volumes={volume_name(stack, node): {"bind": DOCKER_DATA, "mode": "rw"}},
        network=network_name(stack),
        mem_limit=f"{node.memory}m",
    )
    if cgroup_version == 2:
        options["cgroupns"] = "private"
    if privileged:
        options["privileged"] = True
        return options
    options.update(
        # ALL minus what the host lacks, not a list of names: an engine rejects names it
        # does not know (Docker 20.10 predates CAP_PERFMON), and ALL means the ones it knows.
        cap_add=["ALL"],
        cap_drop=missing_capabilities(host_capabilities() if capabilities is None else capabilities),
        security_opt=["seccomp=unconfined", "apparmor=unconfined"],
        device_cgroup_rules=["a *:* rwm"],
    )
    if cgroup_version == 1:
        options["volumes"]["/sys/fs/cgroup"] = {"bind": "/sys/fs/cgroup", "mode": "rw"}
    return options


class PrivilegeRefused(Exception):
    """The host refuses --privileged ("unable to apply caps"); the container was removed again."""


def create_and_start(client, stack: Stack, node: Node, image: str, privileged: bool, hostname: str | None = None):
    """Create and start the node's container; PrivilegeRefused when privileged and the host refuses it."""
    from docker.errors import APIError

    cgroup_version = int(client.info().get("CgroupVersion") or 1)
    endpoint = client.api.create_endpoint_config(ipv4_address=node.ip)
    options = container_options(stack, node, image, privileged=privileged, cgroup_version=cgroup_version,
                                hostname=hostname)
    try:
        container = client.containers.create(networking_config={network_name(stack): endpoint}, **options)
    except APIError as exc:
        raise ProviderError(f"{node.name}: cannot create its container: {exc.explanation or exc}") from None
    try:
        container.start()
    except APIError as exc:
        container.remove(force=True)
        if privileged and _CAPS_REFUSED in str(exc):
            raise PrivilegeRefused() from None
        raise ProviderError(f"{node.name}: cannot start its container: {exc.explanation or exc}") from None
    return container


class NodeTarget:
    """A running node container as a cloudinit.Target (files via put_archive, commands via exec)."""

    def __init__(self, container, name: str):
        self.container = container
        self.name = name

    def put(self, entries: tuple[Entry, ...]) -> None:
        self.container.put_archive("/", tar_of(entries))

    def run(self, argv) -> tuple[int, str]:
        code, output = self.container.exec_run(list(argv))
        return code, output.decode(errors="replace")

    def wait_for_systemd(self, timeout: float = SYSTEMD_BOOT_TIMEOUT) -> None:
        """Return once systemd (PID 1) takes requests; the boot may still be under way."""
        deadline = time.monotonic() + timeout
        output = ""
        while time.monotonic() < deadline:
            code, output = self.run(("systemctl", "is-system-running"))
            if output.strip() in ("initializing", "starting", "running", "degraded", "maintenance"):
                return
            time.sleep(0.1)
        raise ProviderError(f"{self.name}: systemd did not come up within {timeout:.0f} s: {output.strip()}")


def applied_digest(target: NodeTarget) -> str | None:
    """The SHA-256 of the user-data last applied to the node (None when never)."""
    code, output = target.run(("cat", APPLIED))
    return output.strip() if code == 0 else None


def record_applied(target: NodeTarget, digest: str) -> None:
    target.put((Entry(APPLIED, f"{digest}\n".encode(), 0o600),))


def tar_of(entries: tuple[Entry, ...]) -> bytes:
    """A tar archive of the entries, rooted at / and owned by root."""
    buffer = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.path.lstrip("/"))
            info.mtime, info.uid, info.gid, info.mode = now, 0, 0, entry.mode
            if entry.link is not None:
                info.type, info.linkname = tarfile.SYMTYPE, entry.link
                tar.addfile(info)
            else:
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
    return buffer.getvalue()
