"""The stack's EC2 instances: found by their tags, created when missing, never twice.

Every instance: the node's private IP from nodes.yml in the stack's subnet, the stack's
security groups, IMDSv2 required with a hop limit of 1 (the user-data holds the node's key:
a container behind a bridge or overlay network is one hop further and cannot read it),
an encrypted EBS root volume, and the stack/node tags on the instance, its volume and its
network interface.
"""

from __future__ import annotations

import time
import uuid

from blackfish.errors import ProviderError
from blackfish.model.stack import Node, Stack
from blackfish.providers.aws import tags
from blackfish.providers.aws.session import Aws, error_code, translated

# States of an instance that still exists (terminated ones linger in listings for an hour).
ALIVE = ("pending", "running", "stopping", "stopped", "shutting-down")
ROOT_VOLUME_GIB = 20
# IAM is eventually consistent: a new instance profile takes seconds before EC2 accepts it.
PROFILE_PROPAGATION_SECONDS = 60


def find(aws: Aws, stack: Stack) -> dict[str, dict]:
    """The stack's live instances by node name."""
    reservations = aws.pages(aws.ec2, "describe_instances", "Reservations", Filters=[
        tags.stack_filter(stack), {"Name": "instance-state-name", "Values": list(ALIVE)}])
    found: dict[str, dict] = {}
    for reservation in reservations:
        for instance in reservation["Instances"]:
            node = tags.value(instance, tags.NODE)
            if node is not None:
                found.setdefault(node, instance)
    return found


def launch_params(stack: Stack, node: Node, *, image_id: str, user_data: bytes, group_ids: list[str],
                  profile: str | None, root_device: str, token: str) -> dict:
    """run_instances' parameters for one node (pure: the dry run prints them)."""
    settings = stack.aws
    params = {
        "ImageId": image_id,
        "InstanceType": settings.instance_type_of(node.name),
        "MinCount": 1, "MaxCount": 1,
        "SubnetId": settings.subnet_id,
        "PrivateIpAddress": node.ip,
        "SecurityGroupIds": group_ids,
        "UserData": user_data,
        "EbsOptimized": settings.ebs_optimized,
        "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled"},
        "BlockDeviceMappings": [{"DeviceName": root_device, "Ebs": {
            "Encrypted": True, "VolumeType": "gp3", "VolumeSize": ROOT_VOLUME_GIB, "DeleteOnTermination": True}}],
        "TagSpecifications": [tags.spec(kind, stack, node) for kind in ("instance", "volume", "network-interface")],
        "ClientToken": token,
    }
    if profile:
        params["IamInstanceProfile"] = {"Name": profile}
    if settings.keypair_name:
        params["KeyName"] = settings.keypair_name
    return params


def new_token() -> str:
    """An idempotency token: botocore's own retries of one launch can never make two instances."""
    return f"blackfish-{uuid.uuid4().hex}"


def launch(aws: Aws, params: dict) -> dict:
    """run_instances for one node; retried while IAM has not yet propagated a new instance profile."""
    import botocore.exceptions

    deadline = time.monotonic() + PROFILE_PROPAGATION_SECONDS
    with translated("run_instances"):
        while True:
            try:
                return aws.ec2.run_instances(**params)["Instances"][0]
            except botocore.exceptions.ClientError as exc:
                if not (_profile_not_ready(exc) and time.monotonic() < deadline):
                    raise
            time.sleep(3)


def _profile_not_ready(exc) -> bool:
    message = exc.response.get("Error", {}).get("Message", "").lower()
    return error_code(exc) == "InvalidParameterValue" and "instance profile" in message


def wait(aws: Aws, waiter: str, instance_ids: list[str]) -> None:
    if not instance_ids:
        return
    with translated(f"waiting for {waiter.replace('instance_', 'instances ')}"):
        aws.ec2.get_waiter(waiter).wait(InstanceIds=instance_ids, WaiterConfig={"Delay": 2, "MaxAttempts": 300})


def start(aws: Aws, instances: list[dict]) -> None:
    ids = [i["InstanceId"] for i in instances]
    if ids:
        aws.call(aws.ec2, "start_instances", InstanceIds=ids)


def stop(aws: Aws, instances: list[dict]) -> None:
    ids = [i["InstanceId"] for i in instances]
    if ids:
        aws.call(aws.ec2, "stop_instances", InstanceIds=ids)
        wait(aws, "instance_stopped", ids)


def terminate(aws: Aws, instances: list[dict]) -> None:
    ids = [i["InstanceId"] for i in instances]
    if ids:
        aws.call(aws.ec2, "terminate_instances", InstanceIds=ids)
        wait(aws, "instance_terminated", ids)


def user_data_of(aws: Aws, instance_id: str) -> bytes:
    """What an instance was given (the bytes before EC2's base64)."""
    import base64

    value = aws.call(aws.ec2, "describe_instance_attribute", InstanceId=instance_id, Attribute="userData")
    encoded = value.get("UserData", {}).get("Value")
    if encoded is None:
        raise ProviderError(f"{instance_id} has no user-data")
    return base64.b64decode(encoded)
