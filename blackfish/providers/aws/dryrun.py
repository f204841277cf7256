"""`blackfish up --dry-run` on AWS: what `up` would make, from nodes.yml alone (no AWS call,
nothing written). What only AWS can tell (the VPC, the AMI id, what already exists) is named
as looked up at `up` time."""

from __future__ import annotations

import json

from blackfish.errors import UsageError
from blackfish.model.stack import Stack
from blackfish.providers.aws import ami, iam, instances, network
from blackfish.providers.aws.provider import settings_of


def describe(stack: Stack) -> list[str]:
    if stack.provider != "aws":
        raise UsageError(f"--dry-run is for provider aws; provider {stack.provider} makes nothing outside this machine")
    settings = settings_of(stack)
    kind, box = ami.box_choice(stack.box)
    image = box if kind == "ami" else f"the newest {ami.name_filter(box)} of owner {ami.FLATCAR_OWNER} for the type's architecture"
    lines = [f"stack {stack.name!r} on AWS {settings.region}, subnet {settings.subnet_id} (must be {stack.admin_network}); "
             "what exists already (by its io.blackfish.stack tag) is kept, the rest is made:"]
    group = "<the stack group>"
    lines.append(f"  security group {network.group_name(stack)}:")
    lines += [f"    ingress {network.describe(rule)}" for rule in sorted(network.wanted_rules(stack, group), key=str)]
    if not settings.operator_cidr:
        lines.append("    (no operator-cidr: nothing outside the group reaches the nodes)")
    if settings.lb_public_ports and stack.lbs:
        lines.append(f"  security group {network.lb_group_name(stack)} (lb nodes only):")
        lines += [f"    ingress {network.describe(rule)}" for rule in sorted(network.wanted_lb_rules(stack), key=str)]
    if iam.needed(stack):
        name = iam.profile_name(stack)
        policy = json.dumps(iam.bucket_policy("aws", settings.s3bucket), separators=(",", ":"))
        lines.append(f"  IAM role and instance profile {name}, policy {iam.POLICY_NAME}: {policy}")
    for node in stack.nodes:
        groups = [network.group_name(stack)] + ([network.lb_group_name(stack)] if settings.lb_public_ports and node.is_lb else [])
        lines.append(f"  instance {node.name}: {settings.instance_type_of(node.name)} at {node.ip}, image {image}, "
                     f"groups {', '.join(groups + list(settings.security_groups))}, IMDSv2 required (hop limit 1), "
                     f"encrypted {instances.ROOT_VOLUME_GIB} GiB gp3 root" + (", EBS-optimized" if settings.ebs_optimized else ""))
    return lines
