"""The stack's place in the VPC: its subnet (checked against admin-network) and its security
groups, whose rules are one list of ports, each with the service it serves (Typhoon's style).

Least privilege: the nodes reach each other on the cluster's ports only (source = the group
itself); the operator's network (`operator-cidr`) reaches SSH and the TLS endpoints the
blackfish commands use; nothing is open to the internet, except the lb nodes' HTTP ports when
`lb-public-ports` asks, through a second group that only lb nodes carry.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from blackfish.errors import UsageError
from blackfish.model.stack import CONSUL_HTTPS_PORT, DOCKER_TLS_PORT, REGISTRY_PORT, Stack
from blackfish.providers.aws import tags
from blackfish.providers.aws.session import Aws


@dataclass(frozen=True)
class Port:
    protocol: str  # tcp, udp, or an IP protocol number ("50" = ESP)
    first: int | None
    last: int | None
    service: str


# Between the nodes of the stack (source: the stack's own group).
CLUSTER_PORTS = (
    Port("tcp", DOCKER_TLS_PORT, DOCKER_TLS_PORT, "docker engine API over TLS (swarm join tokens, the proxy)"),
    Port("tcp", 2377, 2377, "swarm cluster management"),
    Port("tcp", 7946, 7946, "swarm node gossip"),
    Port("udp", 7946, 7946, "swarm node gossip"),
    Port("udp", 4789, 4789, "swarm overlay networks (VXLAN)"),
    Port("50", None, None, "swarm encrypted overlay networks (IPsec ESP)"),
    Port("tcp", 8300, 8302, "consul server RPC, LAN and WAN gossip"),
    Port("udp", 8301, 8302, "consul LAN and WAN gossip"),
    Port("tcp", CONSUL_HTTPS_PORT, CONSUL_HTTPS_PORT, "consul HTTPS API (consul-template, registrator)"),
    Port("tcp", REGISTRY_PORT, REGISTRY_PORT, "the stack registry (TLS, client certificates)"),
)

# From operator-cidr only: what `blackfish ssh`, the proxy, `check` and a `docker push` use.
OPERATOR_PORTS = (
    Port("tcp", 22, 22, "ssh (blackfish ssh)"),
    Port("tcp", DOCKER_TLS_PORT, DOCKER_TLS_PORT, "docker engine API over TLS (the blackfish proxy, env, context)"),
    Port("tcp", CONSUL_HTTPS_PORT, CONSUL_HTTPS_PORT, "consul HTTPS API (blackfish check)"),
    Port("tcp", REGISTRY_PORT, REGISTRY_PORT, "the stack registry (docker push/pull with a stack certificate)"),
)

# A rule as AWS describes it: (protocol, first port, last port, source), source "sg-..." or a CIDR.
Rule = tuple[str, int | None, int | None, str]
ANYWHERE = "0.0.0.0/0"
# What AWS accepts in a rule's description.
_DESCRIPTION = re.compile(r"[^a-zA-Z0-9. _:/()#,@\[\]+=&;{}!$*-]")


def group_name(stack: Stack) -> str:
    return f"blackfish-{stack.name}"


def lb_group_name(stack: Stack) -> str:
    return f"blackfish-{stack.name}-lb"


def check_subnet(aws: Aws, stack: Stack) -> dict:
    """The stack's subnet; UsageError (exit 2) when admin-network, a zone or a node IP does not fit it."""
    subnet_id = aws.settings.subnet_id
    subnets = aws.call(aws.ec2, "describe_subnets", SubnetIds=[subnet_id])["Subnets"]
    subnet = subnets[0]
    cidr = subnet["CidrBlock"]
    if ipaddress.ip_network(stack.admin_network) != ipaddress.ip_network(cidr):
        raise UsageError(f"admin-network {stack.admin_network} is not the CIDR of subnet {subnet_id} ({cidr}); "
                         f"set `admin-network: {cidr}` and node IPs inside it")
    zone = subnet["AvailabilityZone"]
    for node in stack.nodes:
        wanted = aws.settings.availability_zone_of(node.name)
        if wanted is not None and wanted != zone:
            raise UsageError(f"{node.name}: availability-zone {wanted}, but subnet {subnet_id} is in {zone} "
                             "(a subnet lives in one zone; leave availability-zone out or name the subnet's)")
    network = ipaddress.ip_network(cidr)
    # AWS keeps the first four addresses and the last of every subnet.
    reserved = {network.network_address + i for i in range(4)} | {network.broadcast_address}
    for node in stack.nodes:
        if ipaddress.ip_address(node.ip) in reserved:
            raise UsageError(f"{node.name}: {node.ip} is one of the addresses AWS reserves in {cidr} "
                             "(the first four and the last)")
    return subnet


def wanted_rules(stack: Stack, group_id: str) -> set[Rule]:
    rules = {(p.protocol, p.first, p.last, group_id) for p in CLUSTER_PORTS}
    if stack.aws.operator_cidr:
        rules |= {(p.protocol, p.first, p.last, stack.aws.operator_cidr) for p in OPERATOR_PORTS}
    return rules


def wanted_lb_rules(stack: Stack) -> set[Rule]:
    return {("tcp", port, port, ANYWHERE) for port in stack.aws.lb_public_ports}


def service(rule: Rule) -> str:
    protocol, first, last, source = rule
    if source == ANYWHERE:
        return "lb HTTP, public because lb-public-ports asks"
    ports = OPERATOR_PORTS if "/" in source else CLUSTER_PORTS
    return next((p.service for p in ports if (p.protocol, p.first, p.last) == (protocol, first, last)), "not blackfish's")


def describe(rule: Rule) -> str:
    protocol, first, last, source = rule
    ports = "" if first is None else (f" {first}" if first == last else f" {first}-{last}")
    return f"{protocol}{ports} from {source}: {service(rule)}"


def find_group(aws: Aws, stack: Stack, name: str) -> dict | None:
    found = aws.call(aws.ec2, "describe_security_groups", Filters=[
        {"Name": "group-name", "Values": [name]}, {"Name": f"tag:{tags.STACK}", "Values": [stack.name]},
    ])["SecurityGroups"]
    return found[0] if found else None


def ensure_group(aws: Aws, stack: Stack, vpc_id: str, name: str, rules, created: list[str]) -> str:
    """The group's id, created when missing; its ingress rules made exactly `rules(group_id)`."""
    group = find_group(aws, stack, name)
    if group is None:
        group_id = aws.call(aws.ec2, "create_security_group", GroupName=name, VpcId=vpc_id,
                            Description=f"Blackfish stack {stack.name}",
                            TagSpecifications=[tags.spec("security-group", stack)])["GroupId"]
        created.append(f"security group {name} ({group_id})")
        existing: set[Rule] = set()
    else:
        group_id = group["GroupId"]
        existing = current_rules(group)
    wanted = rules(group_id)
    if missing := wanted - existing:
        aws.call(aws.ec2, "authorize_security_group_ingress", GroupId=group_id,
                 IpPermissions=[permission(r) for r in sorted(missing, key=str)])
        created.extend(f"rule {describe(r)}" for r in sorted(missing, key=str))
    if extra := existing - wanted:
        aws.call(aws.ec2, "revoke_security_group_ingress", GroupId=group_id,
                 IpPermissions=[permission(r, described=False) for r in sorted(extra, key=str)])
    return group_id


def current_rules(group: dict) -> set[Rule]:
    rules = set()
    for p in group.get("IpPermissions", []):
        key = (p["IpProtocol"], p.get("FromPort"), p.get("ToPort"))
        if key[0] not in ("tcp", "udp"):
            key = (key[0], None, None)
        rules |= {(*key, r["CidrIp"]) for r in p.get("IpRanges", [])}
        rules |= {(*key, g["GroupId"]) for g in p.get("UserIdGroupPairs", [])}
    return rules


def permission(rule: Rule, described: bool = True) -> dict:
    protocol, first, last, source = rule
    entry: dict = {"IpProtocol": protocol}
    if first is not None:
        entry |= {"FromPort": first, "ToPort": last}
    else:  # an IP protocol without ports (ESP): AWS reads -1 as "all"
        entry |= {"FromPort": -1, "ToPort": -1}
    note = {"Description": _DESCRIPTION.sub("", service(rule))[:255]} if described else {}
    if source.startswith("sg-"):
        entry["UserIdGroupPairs"] = [{"GroupId": source, **note}]
    else:
        entry["IpRanges"] = [{"CidrIp": source, **note}]
    return entry
