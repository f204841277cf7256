"""Before `up` writes anything: can this machine boot the stack through Vagrant?

Each check raises MissingToolError (exit 3) with what to do: vagrant missing or older than
2.3, VirtualBox refusing the host-only network, the provider unusable, the box not
downloadable. They run before the state directory is touched, so a failed `up` leaves it
exactly as it was. Vagrant itself judges the provider and the box (in a scratch directory),
so the message is Vagrant's own reason, for every provider and plugin.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
import sys
from pathlib import Path

from blackfish import tools
from blackfish.errors import BlackfishError, MissingToolError
from blackfish.model.stack import Stack

MIN_VERSION = (2, 3)
VAGRANT_HINT = ("Install Vagrant >= 2.3 (https://developer.hashicorp.com/vagrant/install; Debian/Ubuntu: "
                "`apt-get install vagrant`), or boot the nodes as local containers with `--provider docker`")
PROVIDER_HINTS = {
    "virtualbox": "Install VirtualBox (https://www.virtualbox.org/wiki/Downloads) so that `VBoxManage` is on PATH, "
                  "or boot the nodes as local containers with `--provider docker`",
    "parallels": "Install Parallels Desktop (Pro or Business) and `vagrant plugin install vagrant-parallels`",
    "libvirt": "Install libvirt and `vagrant plugin install vagrant-libvirt` (Debian/Ubuntu: `apt-get install vagrant-libvirt`), "
               "and bring a libvirt box (`box:` in nodes.yml)",
    "vmware_desktop": "Install the Vagrant VMware Utility and `vagrant plugin install vagrant-vmware-desktop`",
    "hyperv": "Enable Hyper-V (Windows) and run blackfish from an elevated shell",
}
# The first Vagrant release that drives each VirtualBox newer than 7.0 (Vagrant's CHANGELOG:
# 2.4.2 "Add support for VirtualBox 7.1" GH-13513, 2.4.9 "Add support for VirtualBox 7.2" GH-13709).
VAGRANT_FOR_VIRTUALBOX = {(7, 1): "2.4.2", (7, 2): "2.4.9"}
# Vagrant's words when VirtualBox is newer than the versions it knows (driver/meta.rb).
_VBOX_UNSUPPORTED = re.compile(r"not supported by this version of Vagrant.*?to use Vagrant:\s*(?P<versions>[\d., ]+)", re.S)
# Vagrant's error classes (`--machine-readable` error-exit) that mean "this provider cannot run here".
UNUSABLE_PROVIDER_ERRORS = ("ProviderNotUsable", "ProviderNotFound", "ProviderNotFoundSuggestion", "NoDefaultProvider")
# VirtualBox >= 6.1.28 on Linux (and on macOS before 7.0) allows host-only addresses only in
# these ranges unless /etc/vbox/networks.conf lists others; Vagrant checks the same way
# (plugins/providers/virtualbox/action/network.rb), https://www.virtualbox.org/manual/ch06.html#network_hostonly
VBOX_NETWORKS_CONF = Path("/etc/vbox/networks.conf")
VBOX_DEFAULT_RANGES = ("192.168.56.0/21",)
VBOX_RESTRICTS_FROM = (6, 1, 28)
VBOX_DARWIN_FREE_FROM = (7, 0)
# What `vagrant status` reads in the scratch directory: one machine, never created.
PROBE_VAGRANTFILE = 'Vagrant.configure("2") { |c| c.vm.define("blackfish-probe") { |m| m.vm.box = "blackfish-probe" } }\n'


def vagrant_executable() -> str:
    return tools.require("vagrant", VAGRANT_HINT, what="Vagrant")


def check_version(output: str) -> tuple[int, ...]:
    """The version `vagrant --version` printed; MissingToolError when older than 2.3."""
    version = tools.parse_version(output)
    if version is None:
        raise BlackfishError(f"cannot tell Vagrant's version from `vagrant --version`: {output.strip()!r}")
    if version < MIN_VERSION:
        shown = ".".join(map(str, version))
        raise MissingToolError(f"Vagrant {shown} is too old: blackfish needs Vagrant >= 2.3", hint=VAGRANT_HINT)
    return version


def hostonly_ranges(conf_text: str | None) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The ranges VirtualBox allows for host-only networks, from networks.conf's `* RANGE...` lines."""
    if conf_text is None:
        return [ipaddress.ip_network(r) for r in VBOX_DEFAULT_RANGES]
    ranges = []
    for line in conf_text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("*"):
            for word in line[1:].split():
                try:
                    ranges.append(ipaddress.ip_network(word, strict=False))
                except ValueError:
                    continue  # VirtualBox skips what it cannot parse too
    return ranges


def vbox_restricts_hostonly(version: tuple[int, ...], platform: str) -> bool:
    """Whether this VirtualBox (on this OS: sys.platform) restricts host-only addresses."""
    if platform.startswith(("win", "cygwin")) or version < VBOX_RESTRICTS_FROM:
        return False
    return not (platform == "darwin" and version >= VBOX_DARWIN_FREE_FROM)


def hostonly_problem(stack: Stack, conf_text: str | None) -> str | None:
    """Why VirtualBox would refuse the stack's host-only addresses, or None when it accepts them."""
    ranges = hostonly_ranges(conf_text)
    outside = [f"{n.name} ({n.ip})" for n in stack.nodes if not any(ipaddress.ip_address(n.ip) in r for r in ranges)]
    if not outside:
        return None
    allowed = ", ".join(map(str, ranges)) or "nothing"
    source = str(VBOX_NETWORKS_CONF) if conf_text is not None else f"the default: {VBOX_NETWORKS_CONF} does not exist"
    return f"VirtualBox allows host-only addresses only in {allowed} ({source}); outside it: {', '.join(outside)}"


def check_hostonly_network(stack: Stack, vbox_version: str, conf: Path = VBOX_NETWORKS_CONF) -> None:
    version = tools.parse_version(vbox_version)
    if version is None or not vbox_restricts_hostonly(version, sys.platform):
        return
    try:
        text = conf.read_text()
    except FileNotFoundError:
        text = None
    except OSError as exc:
        raise BlackfishError(f"cannot read {conf}: {exc}") from None
    problem = hostonly_problem(stack, text)
    if problem:
        raise MissingToolError(problem, hint=(
            "Move admin-network and the node IPs into an allowed range (like 192.168.56.0/24), "
            f"or allow yours with a line `* {stack.admin_network}` in {conf}, then run `blackfish up` again"))


def vagrant_error(output: str | None) -> tuple[str, str] | None:
    """(error class, message) from `--machine-readable` output's error-exit line, if any."""
    for line in (output or "").splitlines():
        parts = line.split(",", 4)
        if len(parts) == 5 and parts[2] == "error-exit":
            kind, message = parts[3].rpartition("::")[2], parts[4]
            return kind, message.replace("%!(VAGRANT_COMMA)", ",").replace("\\n", "\n").strip()
    return None


def provider_reason(message: str) -> str:
    """The part of Vagrant's provider error a user acts on, as one line."""
    marker = "reason is shown below:"
    text = message.split(marker, 1)[1] if marker in message else message
    first = " ".join(next((p for p in text.split("\n\n") if p.strip()), text).split())
    # Vagrant's paragraph goes on about PATH; its first sentences say what is wrong.
    sentences = re.findall(r".+?[.!?](?:\s|$)", first) or [first]
    kept = sentences[0]
    for sentence in sentences[1:]:
        if len(kept) + len(sentence) > 120:
            break
        kept += sentence
    return kept.strip().rstrip(".")


def unusable_reason(provider: str, kind: str, message: str) -> str:
    """Why Vagrant cannot use a provider, from its error class and message, in one line."""
    if kind.startswith("ProviderNotFound"):
        return f"Vagrant has no {provider!r} provider (its plugin is not installed)"
    return provider_reason(message)


def unsupported_virtualbox(message: str, vagrant_version: str, vbox_version: str) -> MissingToolError | None:
    """The error for a VirtualBox newer than this Vagrant supports: the fix is a newer Vagrant
    (or an older VirtualBox), not installing VirtualBox. None for any other reason."""
    found = _VBOX_UNSUPPORTED.search(message)
    if found is None:
        return None
    newest = found["versions"].replace(",", " ").split()[-1]
    version = tools.parse_version(vbox_version) or ()
    shown = ".".join(map(str, version)) or vbox_version.strip() or "this version"
    wanted = VAGRANT_FOR_VIRTUALBOX.get(version[:2])
    vagrant = f"Vagrant >= {wanted}" if wanted else f"a Vagrant release that supports VirtualBox {'.'.join(map(str, version[:2]))}"
    return MissingToolError(
        f"Vagrant {vagrant_version} supports VirtualBox up to {newest}, and VirtualBox {shown} is installed",
        hint=f"Install {vagrant} (https://developer.hashicorp.com/vagrant/install), or VirtualBox {newest}")


def unusable_provider(provider: str, kind: str, message: str) -> MissingToolError:
    return MissingToolError(f"the {provider} provider is not usable on this machine: "
                            f"{unusable_reason(provider, kind, message)}", hint=PROVIDER_HINTS.get(provider))


def check_provider(vagrant, provider: str, log: Path, vagrant_version: str = "") -> None:
    """Ask Vagrant (status of a one-machine Vagrantfile in a scratch directory) whether it
    can use `provider` here. `vagrant` is a python-vagrant object rooted in that directory,
    its stderr going to `log`."""
    try:
        vagrant.status()
    except subprocess.CalledProcessError as exc:
        output = exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else (exc.output or "")
        error = vagrant_error(output)
        if error and error[0] in UNUSABLE_PROVIDER_ERRORS:
            vboxmanage = shutil.which("VBoxManage") if provider == "virtualbox" else None
            if vboxmanage:
                vbox_version = tools.run([vboxmanage, "--version"], check=False).stdout
                if newer := unsupported_virtualbox(error[1], vagrant_version, vbox_version):
                    raise newer from None
            raise unusable_provider(provider, *error) from None
        stderr = log.read_text(errors="replace") if log.is_file() else ""
        raise BlackfishError(f"`vagrant status` failed while checking the {provider} provider",
                             detail=error[1] if error else tools.tail(output + stderr)) from None


def ensure_box(vagrant, stack: Stack, provider: str, log: Path) -> None:
    """Add the stack's box for `provider` unless Vagrant has it (the only download of `up`)."""
    boxes = vagrant.box_list()
    if any(b.name == stack.box and b.provider == provider for b in boxes):
        return
    try:
        vagrant.box_add(stack.box, stack.box_url, provider=provider)
    except subprocess.CalledProcessError:
        output = log.read_text(errors="replace") if log.is_file() else ""
        where = f" from {stack.box_url}" if stack.box_url else ""
        raise MissingToolError(
            f"could not download the box {stack.box!r} for {provider}{where}",
            hint="Check the network and `box:` in nodes.yml, or add the box yourself with "
                 f"`vagrant box add --provider {provider} {stack.box}{' ' + stack.box_url if stack.box_url else ''}`",
            detail=tools.tail(output)) from None

