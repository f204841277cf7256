"""Strict parsing of the addresses nodes.yml and stack.json carry.

`ipaddress` takes more than an address: an IPv6 zone (`fd00::1%lo` — and anything after the
`%`, newlines included, issue 16 finding 1). An address here is only what its canonical text
says; the admin network is IPv4 (the units, the swarm bootstrap and Vagrant's host-only
networks are written for IPv4) and private or reserved address space, because the stack's CA
is name-constrained to it: a public admin network would let that CA vouch for public hosts.
"""

from __future__ import annotations

import ipaddress
import re

# Digits, hex digits, '.' and ':' only (and the '/' of a prefix): no zone, no space, no sign.
_IP_CHARS = re.compile(r"[0-9A-Fa-f.:]+")
_NETWORK_CHARS = re.compile(r"[0-9A-Fa-f.:]+/[0-9]{1,3}")


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The IP address text is; ValueError for anything else (zones, spaces, prefixes)."""
    if not isinstance(text, str) or not _IP_CHARS.fullmatch(text):
        raise ValueError(f"not an IP address: {text!r}")
    return ipaddress.ip_address(text)


def parse_network(text: str) -> ipaddress.IPv4Network:
    """The admin network text is: IPv4, CIDR form, host bits zero; ValueError otherwise."""
    if not isinstance(text, str) or not _NETWORK_CHARS.fullmatch(text):
        raise ValueError(f"not a network in CIDR form (like 192.168.56.0/24): {text!r}")
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise ValueError(f"not a network in CIDR form (like 192.168.56.0/24): {exc}") from None
    if network.version != 4:
        raise ValueError("must be an IPv4 network: node units, the swarm bootstrap and Vagrant's "
                         "host-only networks are written for IPv4")
    return network


def is_private(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    """True when every address of network is private or reserved (RFC 1918, 6598, 5737, ...):
    a CA constrained to it can never vouch for a host on the internet."""
    shared = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598): not routed publicly
    return network.is_private or network.is_reserved or (network.version == 4 and network.subnet_of(shared))
