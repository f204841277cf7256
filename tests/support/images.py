"""Test images built from Debian packages, since no image registry is reachable here.

busybox_image(): a few-MB image with /bin/sh, from Debian's busybox-static.
debian_image(name, packages): debootstrap minbase bookworm plus packages (about a minute),
its rootfs tarball cached under .cache/images/ so later runs (and other engines) only import.
Both take `docker`, the argv prefix of the engine to load into.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "images"
BUSYBOX = "blackfish-test/busybox:1"


def _has_image(docker, name: str) -> bool:
    return subprocess.run([*docker, "image", "inspect", name], capture_output=True).returncode == 0


def _import(docker, tarball: Path, name: str, changes: tuple[str, ...] = ()) -> None:
    args = [arg for change in changes for arg in ("--change", change)]
    with open(tarball, "rb") as f:
        subprocess.run([*docker, "import", *args, "-", name], stdin=f, check=True, capture_output=True)


@contextlib.contextmanager
def _build_lock(name: str):
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{name}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def busybox_image(docker=("docker",)) -> str:
    if _has_image(docker, BUSYBOX):
        return BUSYBOX
    busybox = shutil.which("busybox") or "/bin/busybox"
    if not Path(busybox).exists():
        raise RuntimeError("busybox is not installed (apt-get install busybox-static)")
    tarball = CACHE / "busybox.tar"
    with _build_lock("busybox"):
        if not tarball.exists():
            applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp)
                for d in ("bin", "etc", "tmp", "root"):
                    (root / d).mkdir()
                shutil.copy2(busybox, root / "bin" / "busybox")
                for applet in applets:
                    if applet != "busybox":
                        (root / "bin" / applet).symlink_to("busybox")
                (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
                (root / "etc" / "group").write_text("root:x:0:\n")
                partial = tarball.with_suffix(".partial")
                with tarfile.open(partial, "w") as tar:
                    tar.add(root, arcname=".")
                partial.rename(tarball)
    _import(docker, tarball, BUSYBOX, ('ENV PATH=/bin', 'CMD ["/bin/sh"]'))
    return BUSYBOX


def debian_image(name: str, packages: list[str], docker=("docker",), changes: tuple[str, ...] = ()) -> str:
    """A Debian bookworm image with `packages`, built once with debootstrap and cached."""
    if _has_image(docker, name):
        return name
    key = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    tarball = CACHE / f"{key}.tar"
    with _build_lock(key):
        if not tarball.exists():
            if shutil.which("debootstrap") is None:
                raise RuntimeError("debootstrap is not installed (apt-get install debootstrap)")
            with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
                root = Path(tmp) / "rootfs"
                include = ",".join(packages)
                proc = subprocess.run(
                    ["debootstrap", "--variant=minbase", f"--include={include}", "bookworm", str(root)],
                    capture_output=True, text=True,
                )
                if proc.returncode != 0:
                    raise RuntimeError(f"debootstrap failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
                # What no service reads: about 50 of 130 MB, each MB of which `blackfish load`
                # copies and a node unpacks (minutes in an emulated VM).
                for unread in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/locale", "usr/share/doc",
                               "usr/share/man", "usr/share/info"):
                    shutil.rmtree(root / unread, ignore_errors=True)
                partial = tarball.with_suffix(".partial")
                subprocess.run(["tar", "-C", str(root), "-cf", str(partial), "."], check=True)
                partial.rename(tarball)
    _import(docker, tarball, name, changes)
    return name
