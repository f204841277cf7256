"""nodes.yml keys of `provider: aws` (the seed's keys, hyphenated, at the top level), their
full-match checks, and the settings a Stack keeps of them.

Config and NodeSpec (blackfish.model.config) inherit the two key structs below, so the keys
decode strictly like every other key; `check()` adds the FILE:LINE:COL problems. The
credentials come from boto3's chain (environment, profile, SSO), never from nodes.yml:
`secret-access-key` is refused, `access-key-id` only pins which key the chain must find.
"""

# No `from __future__ import annotations`: msgspec would eval every field's annotation from its
# string on the first decode (a millisecond of each `blackfish validate`, bench/bench_cli.py).

import ipaddress
import re
from typing import Union

import msgspec

_STRUCT = dict(kw_only=True, forbid_unknown_fields=True, rename="kebab")

PROVIDER = "aws"
# Flatcar's release channels; `box:` names one (or an AMI id) on AWS.
CHANNELS = ("stable", "beta", "alpha", "lts")
DEFAULT_INSTANCE_TYPE = "t3.medium"


class AwsKeys(msgspec.Struct, **_STRUCT):
    """The top-level keys of an AWS stack (all optional to the decoder; check() requires some)."""

    region: Union[str, None] = None
    profile: Union[str, None] = None
    access_key_id: Union[str, None] = None
    # Declared so that it can be refused with its reason and its place, not as an unknown key.
    secret_access_key: Union[str, None] = None
    availability_zone: Union[str, None] = None
    subnet_id: Union[str, None] = None
    instance_type: Union[str, None] = None
    ebs_optimized: bool = False
    keypair_name: Union[str, None] = None
    security_groups: list[str] = []
    s3bucket: Union[str, None] = None
    s3_endpoint: Union[str, None] = None
    operator_cidr: Union[str, None] = None
    lb_public_ports: list[int] = []


class AwsNodeKeys(msgspec.Struct, **_STRUCT):
    """Per-node overrides of an AWS stack."""

    instance_type: Union[str, None] = None
    availability_zone: Union[str, None] = None


# Every value is checked with a full match (re.fullmatch), so no prefix of a bad value passes.
# Compiled on first use (re caches them): a file without AWS keys needs none.
PATTERNS = {
    "region": (r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}", "an AWS region like eu-west-1"),
    "profile": (r"[A-Za-z0-9][A-Za-z0-9_.+=,@-]{0,63}", "an AWS profile name (letters, digits, '_.+=,@-')"),
    "access-key-id": (r"(AKIA|ASIA)[A-Z2-7]{16}", "an access key id like AKIA... (20 characters)"),
    "availability-zone": (r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}[a-z](-[a-z]+-\d[a-z]?)?",
                          "an availability zone like eu-west-1a"),
    "subnet-id": (r"subnet-[0-9a-f]{8}([0-9a-f]{9})?", "a subnet id like subnet-0123456789abcdef0"),
    "instance-type": (r"[a-z][a-z0-9-]*\.[a-z0-9]+", "an EC2 instance type like t3.medium"),
    "keypair-name": (r"[A-Za-z0-9._@+=:/-]{1,255}", "an EC2 key pair name (letters, digits, '._@+=:/-')"),
    "security-groups": (r"sg-[0-9a-f]{8}([0-9a-f]{9})?", "a security group id like sg-0123456789abcdef0"),
    "s3bucket": (r"(?!xn--)(?!.*\.\.)(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
                 "an S3 bucket name (3-63 lowercase letters, digits, '.' and '-')"),
    "s3-endpoint": (r"https?://[A-Za-z0-9.-]+(:\d{1,5})?/?", "an http(s)://HOST[:PORT] URL"),
    "box": (r"ami-[0-9a-f]{8}([0-9a-f]{9})?|(flatcar-)?(stable|beta|alpha|lts)",
            "a Flatcar channel (stable, beta, alpha, lts) or an AMI id like ami-0123456789abcdef0"),
}


def _bad_pattern(key: str, value: str) -> str | None:
    pattern, what = PATTERNS[key]
    return None if re.fullmatch(pattern, value) else f"{value!r} is not {what}"


def check(config, bad) -> None:
    """Problems of the AWS keys; `bad(path, message)` records one with its place in the file."""
    aws = config.provider == PROVIDER
    if config.secret_access_key is not None:
        bad(["secret-access-key"], "a secret never goes into nodes.yml: remove it and let the AWS credential chain "
            "find it (AWS_PROFILE or `profile:`, ~/.aws/credentials, `aws sso login`, or AWS_SECRET_ACCESS_KEY)", key=True)
    for key in ("region", "profile", "access-key-id", "availability-zone", "subnet-id", "instance-type",
                "keypair-name", "s3bucket", "s3-endpoint"):
        value = getattr(config, key.replace("-", "_"))
        if value is not None and (message := _bad_pattern(key, value)):
            bad([key], message)
    for i, group in enumerate(config.security_groups):
        if message := _bad_pattern("security-groups", group):
            bad(["security-groups", i], message)
    if config.operator_cidr is not None:
        if message := operator_cidr_problem(config.operator_cidr):
            bad(["operator-cidr"], message)
    for i, port in enumerate(config.lb_public_ports):
        if not 1 <= port <= 65535:
            bad(["lb-public-ports", i], f"{port} is not a TCP port (1-65535)")
    for i, node in enumerate(config.nodes):
        for key in ("instance-type", "availability-zone"):
            value = getattr(node, key.replace("-", "_"))
            if value is not None and (message := _bad_pattern(key, value)):
                bad(["nodes", i, key], message)
    if not aws:
        return
    if config.box is not None and (message := _bad_pattern("box", config.box)):
        bad(["box"], message)
    for key in ("region", "subnet-id"):
        if getattr(config, key.replace("-", "_")) is None:
            bad(["provider"], f"provider aws needs `{key}:` at the top level of nodes.yml")


def operator_cidr_problem(value: str) -> str | None:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        return f"not a network in CIDR form (like 203.0.113.7/32): {exc}"
    if network.version != 4:
        return "must be an IPv4 network"
    if network.prefixlen == 0:
        return "0.0.0.0/0 would open the engines and SSH to the whole internet; give your own address or VPN range"
    return None


class AwsSettings(msgspec.Struct, frozen=True):
    """What an AWS stack keeps of nodes.yml (and stack.json records): no secret among them."""

    region: str
    subnet_id: str
    profile: str | None = None
    access_key_id: str | None = None
    availability_zone: str | None = None
    instance_type: str = DEFAULT_INSTANCE_TYPE
    ebs_optimized: bool = False
    keypair_name: str | None = None
    security_groups: tuple[str, ...] = ()
    s3bucket: str | None = None
    s3_endpoint: str | None = None
    operator_cidr: str | None = None
    lb_public_ports: tuple[int, ...] = ()
    # node name -> {"instance-type": ..., "availability-zone": ...}
    nodes: dict[str, dict[str, str]] = {}

    def instance_type_of(self, node: str) -> str:
        return self.nodes.get(node, {}).get("instance-type") or self.instance_type

    def availability_zone_of(self, node: str) -> str | None:
        return self.nodes.get(node, {}).get("availability-zone") or self.availability_zone

    def to_record(self) -> dict:
        return {
            "region": self.region, "subnet-id": self.subnet_id, "profile": self.profile,
            "access-key-id": self.access_key_id, "availability-zone": self.availability_zone,
            "instance-type": self.instance_type, "ebs-optimized": self.ebs_optimized,
            "keypair-name": self.keypair_name, "security-groups": list(self.security_groups),
            "s3bucket": self.s3bucket, "s3-endpoint": self.s3_endpoint, "operator-cidr": self.operator_cidr,
            "lb-public-ports": list(self.lb_public_ports), "nodes": self.nodes,
        }

    @classmethod
    def from_record(cls, record: dict) -> "AwsSettings":
        return cls(
            region=record["region"], subnet_id=record["subnet-id"], profile=record.get("profile"),
            access_key_id=record.get("access-key-id"), availability_zone=record.get("availability-zone"),
            instance_type=record.get("instance-type") or DEFAULT_INSTANCE_TYPE,
            ebs_optimized=bool(record.get("ebs-optimized")), keypair_name=record.get("keypair-name"),
            security_groups=tuple(record.get("security-groups") or ()), s3bucket=record.get("s3bucket"),
            s3_endpoint=record.get("s3-endpoint"), operator_cidr=record.get("operator-cidr"),
            lb_public_ports=tuple(record.get("lb-public-ports") or ()), nodes=dict(record.get("nodes") or {}),
        )


def settings(config, node_names: list[str]) -> AwsSettings | None:
    """The AWS settings of a config (None when it names no region and subnet: not an AWS stack)."""
    if config.region is None or config.subnet_id is None:
        return None
    overrides = {}
    for name, spec in zip(node_names, config.nodes):
        own = {k: v for k, v in (("instance-type", spec.instance_type), ("availability-zone", spec.availability_zone)) if v}
        if own:
            overrides[name] = own
    return AwsSettings(
        region=config.region, subnet_id=config.subnet_id, profile=config.profile, access_key_id=config.access_key_id,
        availability_zone=config.availability_zone, instance_type=config.instance_type or DEFAULT_INSTANCE_TYPE,
        ebs_optimized=config.ebs_optimized, keypair_name=config.keypair_name,
        security_groups=tuple(config.security_groups), s3bucket=config.s3bucket, s3_endpoint=config.s3_endpoint,
        operator_cidr=config.operator_cidr, lb_public_ports=tuple(config.lb_public_ports), nodes=overrides,
    )
