"""`blackfish dns`: make `*.<stack>` resolve on this host through the stack's consul DNS.

The stack's DNS servers are its consul-server nodes, port 8600. How the host is told depends on
what it runs (detected, or chosen with --via):

- networkmanager: NetworkManager with its dnsmasq plugin (`dns=dnsmasq`) gets
  /etc/NetworkManager/dnsmasq.d/blackfish-<stack>.conf (`server=/<stack>/<ip>#8600`) and restarts
  its dnsmasq.
- resolved: systemd-resolved gets, on the link that reaches the consul servers (vboxnet0, a
  docker bridge), those servers as the link's DNS and `~<stack>` as its routing domain, so only
  `*.<stack>` goes there. Set with resolvectl: it lasts until the link goes away (re-run after a
  reboot). Needs systemd >= 246 for a server port other than 53.
- macos: /etc/resolver/<stack>, which macOS reads for every name under <stack>.

Every step is a blackfish.host.Command, so --dry-run prints the same text that would run.
"""

from __future__ import annotations

import configparser
import json
import re
from dataclasses import dataclass

from blackfish.errors import BlackfishError, MissingToolError, UsageError
from blackfish.host import Command, Host, make_dir, probe, remove_file, write_file
from blackfish.model.stack import CONSUL_DNS_PORT, Stack

METHODS = ("networkmanager", "resolved", "macos")
TOOLS = ("resolvectl", "nmcli", "ip")
NM_CONF = "/etc/NetworkManager/NetworkManager.conf"
NM_CONF_DIRS = ("/usr/lib/NetworkManager/conf.d", "/etc/NetworkManager/conf.d")  # later files win
NM_DNSMASQ_DIR = "/etc/NetworkManager/dnsmasq.d"
RESOLVED_RUN_DIR = "/run/systemd/resolve"
RESOLVED_MIN_VERSION = 246  # first systemd whose resolved takes ADDRESS:PORT
MAC_RESOLVER_DIR = "/etc/resolver"


@dataclass(frozen=True)
class Plan:
    method: str
    commands: list[Command]
    note: str = ""


def consul_dns_servers(stack: Stack) -> list[str]:
    """The consul servers of the stack (of all its groups: a group of workers has none of its own)."""
    return [n.ip for n in (stack.consul_servers or stack.all_nodes)]


# --- what each method writes or runs (pure: the unit tests read these) ---

def header(stack_name: str) -> str:
    return f"# blackfish: *.{stack_name} through the consul DNS of stack {stack_name}\n"


def dnsmasq_conf(stack_name: str, servers: list[str]) -> str:
    return header(stack_name) + "".join(f"server=/{stack_name}/{ip}#{CONSUL_DNS_PORT}\n" for ip in servers)


def mac_resolver_file(stack_name: str, servers: list[str]) -> str:
    return header(stack_name) + "".join(f"nameserver {ip}\n" for ip in servers) + f"port {CONSUL_DNS_PORT}\n"


def resolved_commands(stack_name: str, links: dict[str, list[str]]) -> list[Command]:
    commands = []
    for link, servers in links.items():
        commands += [
            Command(("resolvectl", "dns", link, *(f"{ip}:{CONSUL_DNS_PORT}" for ip in servers)), privileged=True),
            # A routing-only domain: only names under the stack go to these servers ...
            Command(("resolvectl", "domain", link, f"~{stack_name}"), privileged=True),
            # ... and never names no link claims (the host's own DNS keeps those).
            Command(("resolvectl", "default-route", link, "false"), privileged=True),
            # consul does not sign its answers, and <stack> is no real top-level domain.
            Command(("resolvectl", "dnssec", link, "no"), privileged=True),
        ]
    return commands


def resolved_remove_commands(links: list[str]) -> list[Command]:
    return [Command(("resolvectl", "revert", link), privileged=True) for link in links]


# --- detection ---

def nm_dns_mode(host: Host) -> str | None:
    """NetworkManager's `[main] dns=` as NetworkManager merges its config files."""
    files = [host.path(NM_CONF)]
    for directory in NM_CONF_DIRS:
        d = host.path(directory)
        if d.is_dir():
            files += sorted(d.glob("*.conf"))
    mode = None
    for path in files:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read(path)
        except configparser.Error:
            continue
        mode = parser.get("main", "dns", fallback=mode)
    return mode


def detect_method(host: Host) -> str | None:
    if host.is_mac:
        return "macos"
    if host.path("/run/NetworkManager").is_dir() and nm_dns_mode(host) == "dnsmasq":
        return "networkmanager"
    if host.path(RESOLVED_RUN_DIR).is_dir() and host.has("resolvectl"):
        return "resolved"
    return None


def route_link(ip: str) -> tuple[str, bool] | None:
    """The interface this host reaches ip through (`ip route get`) and whether that is via a
    gateway (the host's uplink, not a network of the stack's own); None without a route."""
    proc = probe(["ip", "-j", "route", "get", ip])
    if proc.returncode != 0:
        return None
    try:
        route = json.loads(proc.stdout)[0]
        return route["dev"], "gateway" in route
    except (ValueError, LookupError):
        return None


def resolved_version() -> int | None:
    match = re.search(r"systemd (\d+)", probe(["resolvectl", "--version"]).stdout)
    return int(match.group(1)) if match else None


def link_dns_servers(link: str) -> list[str]:
    """The DNS servers link has now (`resolvectl dns LINK`: `Link 5 (vboxnet0): 1.2.3.4 ...`)."""
    out = probe(["resolvectl", "dns", link]).stdout
    return out.split(":", 1)[1].split() if ":" in out else []


# --- planning ---

def plan(stack: Stack, host: Host, method: str | None = None, remove: bool = False, link: str | None = None) -> Plan:
    servers = consul_dns_servers(stack)
    method = method or detect_method(host)
    if method is None:
        raise MissingToolError(
            "found no resolver blackfish can configure (NetworkManager with dnsmasq, systemd-resolved, macOS)",
            hint=f"Point your resolver at the stack's consul DNS for *.{stack.name} yourself; for dnsmasq:",
            detail=dnsmasq_conf(stack.name, servers),
        )
    if method == "networkmanager":
        return _networkmanager(stack.name, servers, host, remove)
    if method == "macos":
        return _macos(stack.name, servers, host, remove)
    return _resolved(stack.name, servers, remove, link)


def _networkmanager(stack_name: str, servers: list[str], host: Host, remove: bool) -> Plan:
    conf = host.path(NM_DNSMASQ_DIR) / f"blackfish-{stack_name}.conf"
    _refuse_foreign(conf, stack_name)
    reload = Command(("nmcli", "general", "reload", "dns-full"), privileged=True)
    if remove:
        return Plan("networkmanager", [remove_file(conf, True), reload] if conf.exists() else [])
    return Plan("networkmanager", [write_file(conf, dnsmasq_conf(stack_name, servers), True), reload])


def _macos(stack_name: str, servers: list[str], host: Host, remove: bool) -> Plan:
    directory = host.path(MAC_RESOLVER_DIR)
    path = directory / stack_name
    _refuse_foreign(path, stack_name)
    if remove:
        return Plan("macos", [remove_file(path, True)] if path.exists() else [])
    return Plan("macos", [make_dir(directory, True), write_file(path, mac_resolver_file(stack_name, servers), True)])


def _refuse_foreign(path, stack_name: str) -> None:
    """Blackfish writes and removes only files it wrote (they start with its header): an
    /etc/resolver/<stack> of the user's own, say for a real domain, is left alone (issue 16)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            first = f.readline()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror}); blackfish changes only files it wrote") from None
    if first != header(stack_name).splitlines(keepends=True)[0]:
        raise UsageError(f"{path} exists and was not written by blackfish: it is left alone; "
                         "move it away to let `blackfish dns` manage it")


def _resolved(stack_name: str, servers: list[str], remove: bool, link: str | None) -> Plan:
    links: dict[str, list[str]] = {}
    for ip in servers:
        route = (link, False) if link else route_link(ip)
        if route is None or route[1]:
            if remove:
                continue  # no link of the stack's reaches it any more: its settings went with it
            why = "no route" if route is None else f"only a route through a gateway on {route[0]}"
            raise BlackfishError(f"{why} from this host to consul server {ip} (is the stack up?); "
                                 "name the interface that reaches the stack with --link")
        links.setdefault(route[0], []).append(ip)
    if remove:
        return Plan("resolved", resolved_remove_commands(list(links)))
    version = resolved_version()
    if version is not None and version < RESOLVED_MIN_VERSION:
        raise BlackfishError(f"systemd-resolved {version} cannot send DNS to port {CONSUL_DNS_PORT} "
                             f"(needs systemd >= {RESOLVED_MIN_VERSION}); use NetworkManager's dnsmasq instead")
    for dev, ours in links.items():
        others = [s for s in link_dns_servers(dev) if s.rsplit(":", 1)[0] not in ours and s not in ours]
        if others:
            raise BlackfishError(f"link {dev} already has DNS servers ({' '.join(others)}); setting the stack's "
                                 "would replace them: name a link that only reaches the stack with --link")
    return Plan("resolved", resolved_commands(stack_name, links),
                note=f"lasts until {', '.join(links)} goes down; run `blackfish dns {stack_name}` again after that")
