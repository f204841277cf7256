"""The stack's instance profile: a role EC2 nodes assume, allowed the registry's S3 bucket and
nothing else (distribution's S3 driver needs exactly these actions). A stack without
`s3bucket` gets no role at all: its registry stores on the node's disk.
"""

from __future__ import annotations

import hashlib
import json

from blackfish.model.stack import Stack
from blackfish.providers.aws import tags
from blackfish.providers.aws.session import Aws, error_code, translated

# distribution's S3 storage driver: the bucket-level and object-level actions it calls.
BUCKET_ACTIONS = ("s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads")
OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListMultipartUploadParts",
                  "s3:AbortMultipartUpload")
POLICY_NAME = "blackfish-registry-bucket"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def profile_name(stack: Stack) -> str:
    """Role and instance profile name: unique per stack and region (IAM names are account-wide)."""
    name = f"blackfish-{stack.name}-{stack.aws.region}"
    if len(name) > 64:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[:55]}-{digest}"
    return name


def bucket_policy(partition: str, bucket: str) -> dict:
    arn = f"arn:{partition}:s3:::{bucket}"
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "RegistryBucket", "Effect": "Allow", "Action": list(BUCKET_ACTIONS), "Resource": arn},
        {"Sid": "RegistryObjects", "Effect": "Allow", "Action": list(OBJECT_ACTIONS), "Resource": f"{arn}/*"},
    ]}


def needed(stack: Stack) -> bool:
    return bool(stack.aws.s3bucket)


def ensure_profile(aws: Aws, stack: Stack, created: list[str]) -> str | None:
    """The instance profile's name (None when the stack needs none), made when missing."""
    if not needed(stack):
        return None
    name = profile_name(stack)
    iam_tags = [t for t in tags.of(stack) if t["Key"] != "Name"]
    if _get(aws, "get_role", RoleName=name) is None:
        aws.call(aws.iam, "create_role", RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST),
                 Description=f"Blackfish stack {stack.name}: its registry's S3 bucket", Tags=iam_tags)
        created.append(f"IAM role {name}")
    partition = aws.session.get_partition_for_region(aws.settings.region)
    aws.call(aws.iam, "put_role_policy", RoleName=name, PolicyName=POLICY_NAME,
             PolicyDocument=json.dumps(bucket_policy(partition, stack.aws.s3bucket)))
    profile = _get(aws, "get_instance_profile", InstanceProfileName=name)
    if profile is None:
        profile = aws.call(aws.iam, "create_instance_profile", InstanceProfileName=name, Tags=iam_tags)
        created.append(f"instance profile {name}")
    if not any(r["RoleName"] == name for r in profile["InstanceProfile"].get("Roles", [])):
        aws.call(aws.iam, "add_role_to_instance_profile", InstanceProfileName=name, RoleName=name)
    return name


def remove_profile(aws: Aws, stack: Stack) -> list[str]:
    """Delete the instance profile and its role; what was removed."""
    name = profile_name(stack)
    removed = []
    profile = _get(aws, "get_instance_profile", InstanceProfileName=name)
    if profile is not None:
        for role in profile["InstanceProfile"].get("Roles", []):
            aws.call(aws.iam, "remove_role_from_instance_profile", InstanceProfileName=name, RoleName=role["RoleName"])
        aws.call(aws.iam, "delete_instance_profile", InstanceProfileName=name)
        removed.append(f"instance profile {name}")
    if _get(aws, "get_role", RoleName=name) is not None:
        for policy in aws.call(aws.iam, "list_role_policies", RoleName=name)["PolicyNames"]:
            aws.call(aws.iam, "delete_role_policy", RoleName=name, PolicyName=policy)
        aws.call(aws.iam, "delete_role", RoleName=name)
        removed.append(f"IAM role {name}")
    return removed


def remains(aws: Aws, stack: Stack) -> list[str]:
    name = profile_name(stack)
    left = []
    if _get(aws, "get_instance_profile", InstanceProfileName=name) is not None:
        left.append(f"instance profile {name}")
    if _get(aws, "get_role", RoleName=name) is not None:
        left.append(f"IAM role {name}")
    return left


def _get(aws: Aws, operation: str, **params) -> dict | None:
    """An IAM get_*; None when the entity does not exist."""
    import botocore.exceptions

    with translated(operation):
        try:
            return getattr(aws.iam, operation)(**params)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "NoSuchEntity":
                return None
            raise
