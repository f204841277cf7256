"""Real VMs for tests: libvirt's daemons, the blackfish libvirt test box, and cleaning up.

    needs_libvirt()                 # skip (fail under CI=true) unless VMs can run here; starts libvirt as root
    box = ensure_box()                # Box(name, path, key): built once, cached, added to VAGRANT_HOME
    with Scope("bfvm") as scope:    # a unique name prefix, e.g. "bfvm3f9a1c-"
        mgmt, private = free_subnets(2)
        ... name every domain, volume and network of the test with scope.prefix ...
        vagrant("up", cwd=project)  # the real vagrant, with VAGRANT_HOME and no update checks
    # on exit: every domain, volume and network whose name starts with the prefix is removed;
    # scope.remains() lists what is left (empty after a good cleanup)

The box (images/libvirt-box/build) boots its kernel directly; QEMU runs as libvirt-qemu and
reads that kernel from the box's directory in VAGRANT_HOME, so VAGRANT_HOME is a shared
directory others can traverse (/var/cache/blackfish/vagrant.d), not a 0700 temporary one.
The box name carries its build key, so boxes of different inputs (branches) live side by side
in VAGRANT_HOME and the storage pool, never replacing one a VM still uses. Run VM tests
under the shared lock (flock /tmp/blackfish-docker.lock ...).
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import random
import shutil
import subprocess
import uuid
from xml.etree import ElementTree
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO, needs

URI = "qemu:///system"
BUILD = REPO / "images" / "libvirt-box" / "build"
START = REPO / "scripts" / "start-libvirtd"
VAGRANT_HOME = Path(os.environ.get("BLACKFISH_TEST_VAGRANT_HOME", "/var/cache/blackfish/vagrant.d"))
BOX_PREFIX = "blackfish-test/libvirt-"
POOL = "default"
POOL_PATH = "/var/lib/libvirt/images"
# Private ranges the tests pick their libvirt networks from (a /24 not in use on this host).
SUBNET_POOL = ipaddress.ip_network("10.200.0.0/13")


@dataclass(frozen=True)
class Box:
    name: str   # as `vagrant box add` knows it: node.vm.box = box.name
    path: Path  # the .box file under /var/cache/blackfish/boxes/<key>/
    key: str    # the hash of the box's inputs


def virsh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["virsh", "-q", "-c", URI, *args], capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise RuntimeError(f"virsh {' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def libvirt_answers() -> bool:
    return shutil.which("virsh") is not None and virsh("version", check=False).returncode == 0


def vagrant_env(**extra: str) -> dict:
    """Environment for vagrant (and a blackfish CLI that runs it): the shared VAGRANT_HOME."""
    return {**os.environ, "VAGRANT_HOME": str(VAGRANT_HOME), "VAGRANT_CHECKPOINT_DISABLE": "1",
            "VAGRANT_DEFAULT_PROVIDER": "libvirt", "LIBVIRT_DEFAULT_URI": URI, **extra}


def vagrant(*args: str, cwd: Path, timeout: float = 900, **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["vagrant", *args], cwd=cwd, env=vagrant_env(VAGRANT_CWD=str(cwd), **extra_env),
                          capture_output=True, text=True, timeout=timeout)


def vagrantfile(box: str, prefix: str, mgmt: str, *, node: str, memory: int = 768, driver: str | None = None,
                body: str = "") -> str:
    """A plain Vagrantfile of one VM of the test box, without blackfish: every libvirt name starts
    with `prefix` (a Scope's), Vagrant's management network `mgmt` is isolated; `body` is Ruby
    added inside the node's block (networks, provisioners)."""
    return f"""\
Vagrant.configure("2") do |config|
  config.vm.box = "{box}"
  config.ssh.insert_key = false
  config.vm.provider :libvirt do |lv|
    lv.uri = "{URI}"{f'{chr(10)}    lv.driver = "{driver}"' if driver else ""}
    lv.default_prefix = "{prefix}"
    lv.memory = {memory}
    lv.cpus = 1
    lv.management_network_name = "{prefix}mgmt"
    lv.management_network_address = "{mgmt}"
    lv.management_network_mode = "none"
  end
  config.vm.define "{node}" do |node|
    node.vm.hostname = "{node}"
{body}  end
end
"""


def needs_libvirt() -> None:
    """Skip (fail under CI=true) unless this machine can boot the test box as a VM."""
    needs(os.geteuid() == 0, "VMs need root here (libvirt's system instance, the box build)")
    for tool, package in (("virsh", "libvirt-clients"), ("libvirtd", "libvirt-daemon-system"),
                          ("qemu-system-x86_64", "qemu-system-x86"), ("qemu-img", "qemu-utils"),
                          ("vagrant", "vagrant"), ("debootstrap", "debootstrap"), ("mkfs.ext4", "e2fsprogs")):
        needs(shutil.which(tool) is not None, f"{tool} is not installed (apt-get install {package})")
    needs(_vagrant_libvirt_installed(), "Vagrant's libvirt provider is missing (apt-get install vagrant-libvirt)")
    if not libvirt_answers():
        proc = subprocess.run([str(START)], capture_output=True, text=True, timeout=120)
        needs(proc.returncode == 0 and libvirt_answers(),
              f"libvirt ({URI}) does not answer and scripts/start-libvirtd failed: {proc.stderr.strip()}")
    _ensure_pool()


def _vagrant_libvirt_installed() -> bool:
    proc = subprocess.run(["vagrant", "plugin", "list"], capture_output=True, text=True, env=vagrant_env(), timeout=120)
    return proc.returncode == 0 and "vagrant-libvirt" in proc.stdout


def _ensure_pool() -> None:
    """vagrant-libvirt keeps disks in the storage pool `default`; define it like virt-install does."""
    if virsh("pool-info", POOL, check=False).returncode != 0:
        os.makedirs(POOL_PATH, mode=0o711, exist_ok=True)
        virsh("pool-define-as", POOL, "dir", "--target", POOL_PATH)
        virsh("pool-autostart", POOL)
    if "running" not in virsh("pool-info", POOL).stdout:
        virsh("pool-start", POOL)


def build_box() -> Path:
    """The box file, built now when its inputs changed (1.5 to 2.5 minutes, mostly debootstrap)."""
    proc = subprocess.run([str(BUILD)], capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"images/libvirt-box/build failed:\n{proc.stderr[-3000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


def ensure_box() -> Box:
    """The blackfish libvirt test box, built if missing and added to VAGRANT_HOME."""
    path = build_box()
    key = path.parent.name  # /var/cache/blackfish/boxes/<key>/blackfish-libvirt.box
    box = Box(f"{BOX_PREFIX}{key}", path, key)
    VAGRANT_HOME.mkdir(parents=True, exist_ok=True)
    VAGRANT_HOME.chmod(0o755)
    with open(VAGRANT_HOME.parent / "vagrant.d.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        listed = subprocess.run(["vagrant", "box", "list", "--machine-readable"], capture_output=True, text=True,
                                env=vagrant_env(), timeout=120)
        if f",box-name,{box.name}" not in listed.stdout:
            added = subprocess.run(["vagrant", "box", "add", "--force", "--name", box.name, str(path)],
                                   capture_output=True, text=True, env=vagrant_env(), timeout=600)
            if added.returncode != 0:
                raise RuntimeError(f"vagrant box add {box.name} failed:\n{added.stdout}{added.stderr}")
    return box


def free_subnets(count: int) -> list[str]:
    """`count` /24 networks from SUBNET_POOL that no interface or libvirt network of this host uses."""
    used = [ipaddress.ip_interface(word).network
            for line in subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout.splitlines()
            for word in line.split()[3:4]]
    for name in _names("net-list", "--all", "--name"):
        xml = virsh("net-dumpxml", name, check=False).stdout
        for ip in ElementTree.fromstring(xml).iter("ip") if xml else ():
            if ip.get("family", "ipv4") != "ipv4":
                continue
            prefix = ip.get("prefix") or ip.get("netmask") or "24"
            used.append(ipaddress.ip_interface(f"{ip.get('address')}/{prefix}").network)
    candidates = [net for net in SUBNET_POOL.subnets(new_prefix=24) if not any(net.overlaps(u) for u in used)]
    return [str(net) for net in random.sample(candidates, count)]


def _names(*args: str) -> list[str]:
    return [line.strip() for line in virsh(*args).stdout.splitlines() if line.strip()]


def _volumes() -> list[tuple[str, str]]:
    """(pool, volume) for every volume of every active pool."""
    found = []
    for pool in _names("pool-list", "--name"):
        for line in virsh("vol-list", "--pool", pool, check=False).stdout.splitlines():
            if line.strip():
                found.append((pool, line.split()[0]))
    return found


class Scope:
    """Everything a test creates in libvirt is named with `prefix`; leaving the scope removes it."""

    def __init__(self, tag: str = "bft"):
        self.prefix = f"{tag}{uuid.uuid4().hex[:6]}-"

    def __enter__(self) -> "Scope":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    def domains(self) -> list[str]:
        return [n for n in _names("list", "--all", "--name") if n.startswith(self.prefix)]

    def networks(self) -> list[str]:
        return [n for n in _names("net-list", "--all", "--name") if n.startswith(self.prefix)]

    def volumes(self) -> list[tuple[str, str]]:
        return [(pool, vol) for pool, vol in _volumes() if vol.startswith(self.prefix)]

    def remains(self) -> list[str]:
        return ([f"domain {d}" for d in self.domains()] + [f"volume {p}/{v}" for p, v in self.volumes()]
                + [f"network {n}" for n in self.networks()])

    def remove(self) -> None:
        for domain in self.domains():
            virsh("destroy", domain, check=False)
            virsh("undefine", domain, "--managed-save", "--snapshots-metadata", check=False)
        for pool, volume in self.volumes():
            virsh("vol-delete", volume, "--pool", pool, check=False)
        for network in self.networks():
            virsh("net-destroy", network, check=False)
            virsh("net-undefine", network, check=False)
