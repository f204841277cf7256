"""Private test networks in network namespaces: hosts on one switch, each able to run dockerd.

Everything with a private address lives inside namespaces this module creates and removes,
so tests never touch the machine's own networks:

    with Lab("bfpx", "10.241.0.0/24") as lab:
        n1 = lab.add_host("n1", "10.241.0.11", hosts={"n1.node.dc1.s": "10.241.0.11"})
        engine = n1.start_dockerd(ca=ca, cert=cert, key=key)   # tcp://10.241.0.11:2376, tlsverify
        engine.cli("info")
        lab.add_host("client", "10.241.0.2").run(["curl", ...])

The switch is a bridge inside its own namespace; each host is a namespace joined to it by a
veth pair. `ip netns exec` bind-mounts /etc/netns/<ns>/hosts over /etc/hosts, which is how a
host gets its own name resolution.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

LAB_ROOT = Path("/var/tmp/blackfish-netlab")
DOCKER_TLS_PORT = 2376


def available() -> tuple[bool, str]:
    """Whether labs can be built here, and why not."""
    if os.geteuid() != 0:
        return False, "network namespaces need root"
    if shutil.which("ip") is None:
        return False, "iproute2 is not installed (apt-get install iproute2)"
    return True, ""


def _sh(*argv: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, **kw)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def _netns_exists(name: str) -> bool:
    return Path("/run/netns", name).exists()


def _delete_netns(name: str) -> None:
    if _netns_exists(name):
        # Kill whatever still runs in it first, or the deletion leaves a zombie namespace.
        pids = _sh("ip", "netns", "pids", name, check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        _sh("ip", "netns", "del", name, check=False)
    shutil.rmtree(Path("/etc/netns", name), ignore_errors=True)


def _unmount_under(path: Path) -> None:
    prefix = str(path) + "/"
    with open("/proc/mounts") as f:
        mounts = [line.split()[1] for line in f]
    for mount in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True)


def _remount_cgroups_script() -> str:
    """Shell commands mounting the machine's cgroup hierarchies (v1 or v2) under /sys/fs/cgroup."""
    commands = []
    with open("/proc/self/mounts") as f:
        for line in f:
            _, target, fstype, options = line.split()[:4]
            if target == "/sys/fs/cgroup" and fstype == "cgroup2":
                return "mount -t cgroup2 cgroup2 /sys/fs/cgroup"
            if target == "/sys/fs/cgroup" and fstype == "tmpfs":
                commands.append("mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup")
            elif target.startswith("/sys/fs/cgroup/") and fstype == "cgroup":
                controllers = ",".join(o for o in options.split(",") if o not in ("rw", "ro", "nosuid", "nodev", "noexec", "relatime"))
                commands.append(f"mkdir -p {target} && mount -t cgroup -o {controllers} cgroup {target}")
    return " && ".join(commands) or "true"


@dataclass
class Dockerd:
    host: "Host"
    root: Path
    process: subprocess.Popen
    log: Path

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def tcp(self) -> str:
        return f"tcp://{self.host.ip}:{DOCKER_TLS_PORT}"

    @property
    def cli_argv(self) -> tuple[str, ...]:
        """The docker CLI talking to this engine over its unix socket (reachable from anywhere)."""
        return ("docker", "-H", f"unix://{self.socket}")

    def cli(self, *args: str, check: bool = False, **kw) -> subprocess.CompletedProcess:
        return subprocess.run([*self.cli_argv, *args], capture_output=True, text=True, check=check, **kw)

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 30) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        _unmount_under(self.root)


@dataclass
class Host:
    lab: "Lab"
    name: str
    ip: str
    netns: str
    dockerd: Dockerd | None = None

    def argv(self, argv) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *map(str, argv)]

    def run(self, argv, **kw) -> subprocess.CompletedProcess:
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        if "env" in kw and kw["env"] is not None:
            kw["env"] = {**os.environ, **kw["env"]}
        return subprocess.run(self.argv(argv), **kw)

    def popen(self, argv, **kw) -> subprocess.Popen:
        if "env" in kw and kw["env"] is not None:
            kw["env"] = {**os.environ, **kw["env"]}
        return subprocess.Popen(self.argv(argv), **kw)

    def set_hosts(self, hosts: dict[str, str]) -> None:
        """/etc/hosts as seen by commands run in this host (name -> address)."""
        etc = Path("/etc/netns", self.netns)
        etc.mkdir(parents=True, exist_ok=True)
        lines = ["127.0.0.1 localhost", f"{self.ip} {self.name}"] + [f"{ip} {name}" for name, ip in hosts.items()]
        (etc / "hosts").write_text("\n".join(lines) + "\n")

    def start_dockerd(self, *, ca: Path, cert: Path, key: Path, timeout: float = 60, extra: tuple[str, ...] = ()) -> Dockerd:
        """dockerd in this host's namespace: TLS-verified TCP on <ip>:2376 plus a private unix socket."""
        if self.dockerd is not None and self.dockerd.running():
            raise RuntimeError(f"{self.name} already runs dockerd")
        root = self.lab.root / self.name
        if self.dockerd is None:
            shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True, exist_ok=True)
        log = root / "dockerd.log"
        argv = [
            "dockerd",
            "--data-root", str(root / "data"),
            "--exec-root", str(root / "exec"),
            "--pidfile", str(root / "docker.pid"),
            "-H", f"unix://{root / 'docker.sock'}",
            "-H", f"tcp://{self.ip}:{DOCKER_TLS_PORT}",
            "--tlsverify", "--tlscacert", str(ca), "--tlscert", str(cert), "--tlskey", str(key),
            "--storage-driver", "overlay2",
            *extra,
        ]
        # `ip netns exec` mounts a fresh /sys for the namespace, which hides the cgroup
        # hierarchies dockerd needs: mount them again (in its private mount namespace).
        # Its own UTS namespace too, so the engine (and `docker node ls`) knows the host's name.
        script = f"{_remount_cgroups_script()} && hostname {self.name} && exec \"$@\""
        wrapped = ["unshare", "--uts", "sh", "-c", script, "dockerd", *argv]
        process = self.popen(wrapped, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
        self.dockerd = Dockerd(self, root, process, log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"dockerd on {self.name} exited ({process.returncode}):\n{self.dockerd.logs()[-3000:]}")
            if self.dockerd.cli("info").returncode == 0:
                return self.dockerd
            time.sleep(0.3)
        self.dockerd.stop()
        raise RuntimeError(f"dockerd on {self.name} did not answer within {timeout:.0f} s:\n{self.dockerd.logs()[-3000:]}")

    def stop_dockerd(self) -> None:
        if self.dockerd is not None:
            self.dockerd.stop()


@dataclass
class Lab:
    prefix: str
    subnet: str
    hosts: dict[str, Host] = field(default_factory=dict)

    def __post_init__(self):
        if len(self.prefix) > 6:
            raise ValueError("keep the prefix short: interface names are limited to 15 characters")
        self.network = ipaddress.ip_network(self.subnet)
        self.switch = f"{self.prefix}-sw"
        self.root = LAB_ROOT / self.prefix

    def __enter__(self) -> "Lab":
        self.cleanup_leftovers()
        self.root.mkdir(parents=True, exist_ok=True)
        _sh("ip", "netns", "add", self.switch)
        self._in_switch("ip", "link", "add", "br0", "type", "bridge")
        self._in_switch("ip", "link", "set", "br0", "up")
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _in_switch(self, *argv: str) -> None:
        _sh("ip", "netns", "exec", self.switch, *argv)

    def add_host(self, name: str, ip: str, hosts: dict[str, str] | None = None) -> Host:
        if ipaddress.ip_address(ip) not in self.network:
            raise ValueError(f"{ip} is outside the lab's subnet {self.subnet}")
        netns = f"{self.prefix}-{name}"
        port = f"v{self.prefix}{len(self.hosts)}"[:15]
        _sh("ip", "netns", "add", netns)
        self._in_switch("ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", netns)
        self._in_switch("ip", "link", "set", port, "master", "br0")
        self._in_switch("ip", "link", "set", port, "up")
        for argv in (("ip", "link", "set", "lo", "up"),
                     ("ip", "addr", "add", f"{ip}/{self.network.prefixlen}", "dev", "eth0"),
                     ("ip", "link", "set", "eth0", "up")):
            _sh("ip", "netns", "exec", netns, *argv)
        host = Host(self, name, ip, netns)
        host.set_hosts(hosts or {})
        self.hosts[name] = host
        return host

    def close(self) -> None:
        for host in self.hosts.values():
            host.stop_dockerd()
        for host in self.hosts.values():
            _delete_netns(host.netns)
        _delete_netns(self.switch)
        _unmount_under(self.root)
        shutil.rmtree(self.root, ignore_errors=True)
        self.hosts.clear()

    def cleanup_leftovers(self) -> None:
        """Remove what an interrupted earlier run with this prefix left behind."""
        for pidfile in self.root.glob("*/docker.pid") if self.root.exists() else []:
            try:
                os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)
            except (ProcessLookupError, ValueError, OSError):
                pass
        listing = _sh("ip", "netns", "list", check=False).stdout.split("\n")
        for line in listing:
            name = line.split(" ")[0]
            if name.startswith(f"{self.prefix}-"):
                _delete_netns(name)
        _unmount_under(self.root)
        shutil.rmtree(self.root, ignore_errors=True)
