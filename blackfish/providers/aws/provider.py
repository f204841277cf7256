"""provider: aws: the stack's nodes as EC2 instances (see docs/aws.md).

`boot` makes what is missing and nothing else: the stack's security group (and the lb group
when `lb-public-ports` asks), the instance profile when the registry stores in S3, then one
instance per node that has none (found by the io.blackfish.stack / io.blackfish.node tags),
and starts halted ones. It returns once every instance runs; the swarm forming is the
readiness step's business. Nothing here dials a node: status comes from EC2's API.
"""

from __future__ import annotations

import time

from blackfish.errors import ProviderError, UsageError
from blackfish.model.stack import DOCKER_TLS_PORT, Node, Stack
from blackfish.providers.aws import ami, iam, instances, network, tags, userdata
from blackfish.providers.aws.session import Aws, error_code, translated
from blackfish.providers.base import NOT_CREATED, Progress, Provider
from blackfish.providers.waves import boot_in_waves
from blackfish.state import StateDir

# A terminated instance's network interface takes a while to go; its group cannot be deleted before.
GROUP_DELETE_SECONDS = 180


def settings_of(stack: Stack):
    if stack.aws is None:
        raise UsageError(f"stack {stack.name!r} has no AWS settings: provider aws needs `region:` and `subnet-id:` "
                         "at the top level of nodes.yml")
    return stack.aws


class AwsProvider(Provider):
    name = "aws"

    def check(self, stack: Stack, state: StateDir) -> None:
        """Credentials, the box, and the subnet against admin-network; writes nothing."""
        aws = Aws(settings_of(stack))
        ami.box_choice(stack.box)
        aws.check_credentials()
        network.check_subnet(aws, stack)

    def boot(self, stack: Stack, state: StateDir, *, parallel: int, provision: bool, progress: Progress) -> None:
        say = progress  # say(node, phase)
        aws = Aws(settings_of(stack))
        documents = {node.name: self._user_data(state, node) for node in stack.nodes}
        subnet = network.check_subnet(aws, stack)
        created: list[str] = []
        group_ids = [network.ensure_group(aws, stack, subnet["VpcId"], network.group_name(stack),
                                          lambda gid: network.wanted_rules(stack, gid), created)]
        lb_group = None
        # Kept (with no rule left) once made, so that dropping lb-public-ports closes the ports.
        if (stack.aws.lb_public_ports and stack.lbs) or network.find_group(aws, stack, network.lb_group_name(stack)):
            lb_group = network.ensure_group(aws, stack, subnet["VpcId"], network.lb_group_name(stack),
                                            lambda gid: network.wanted_lb_rules(stack) if stack.lbs else set(), created)
        profile = iam.ensure_profile(aws, stack, created)
        for item in created:
            say(stack.nodes[0].name, f"made {item}")
        existing = instances.find(aws, stack)

        halted = [i for i in existing.values() if i["State"]["Name"] in ("stopped", "stopping")]
        if provision:
            self._reprovision(aws, stack, existing, documents, say)
        for instance in halted:
            say(tags.value(instance, tags.NODE), "starting its instance")
        instances.wait(aws, "instance_stopped", [i["InstanceId"] for i in halted if i["State"]["Name"] == "stopping"])
        instances.start(aws, halted)

        missing = [node for node in stack.nodes if node.name not in existing]
        images = {kind: ami.resolve(aws, stack.box, kind)
                  for kind in dict.fromkeys(stack.aws.instance_type_of(n.name) for n in missing)}
        launched: list[dict] = []

        def launch(node: Node) -> None:
            kind = stack.aws.instance_type_of(node.name)
            image = images[kind]
            say(node.name, f"launching a {kind} from {image['ImageId']} ({image.get('Name', 'AMI')})")
            groups = [*group_ids, *([lb_group] if lb_group and node.is_lb else []), *stack.aws.security_groups]
            params = instances.launch_params(stack, node, image_id=image["ImageId"], user_data=documents[node.name],
                                             group_ids=groups, profile=profile,
                                             root_device=image.get("RootDeviceName", "/dev/xvda"),
                                             token=instances.new_token())
            instance = instances.launch(aws, params)
            launched.append(instance)
            say(node.name, f"launched {instance['InstanceId']}")

        boot_in_waves(missing, launch, parallel=parallel, progress=say)
        instances.wait(aws, "instance_running", [i["InstanceId"] for i in [*existing.values(), *launched]])
        for node in stack.nodes:
            say(node.name, "running")

    def status(self, stack: Stack, state: StateDir) -> list[dict]:
        aws = Aws(settings_of(stack))
        found = instances.find(aws, stack)
        rows = []
        for node in stack.nodes:
            instance = found.get(node.name)
            row = {"node": node.name, "ip": node.ip, "roles": list(node.roles),
                   "state": instance["State"]["Name"] if instance else NOT_CREATED}
            if instance:
                row |= {"instance": instance["InstanceId"], "type": instance["InstanceType"],
                        "zone": instance.get("Placement", {}).get("AvailabilityZone", "-")}
            rows.append(row)
        return rows

    def halt(self, stack: Stack, state: StateDir) -> None:
        aws = Aws(settings_of(stack))
        running = [i for i in instances.find(aws, stack).values() if i["State"]["Name"] in ("pending", "running")]
        instances.stop(aws, running)

    def destroy(self, stack: Stack, state: StateDir) -> list[str]:
        """Terminate every instance, wait, then remove the groups and the instance profile."""
        aws = Aws(settings_of(stack))
        found = instances.find(aws, stack)
        instances.terminate(aws, list(found.values()))
        removed = [f"instance {name} ({i['InstanceId']})" for name, i in found.items()]
        for name in (network.lb_group_name(stack), network.group_name(stack)):
            group = network.find_group(aws, stack, name)
            if group is not None:
                _delete_group(aws, group["GroupId"])
                removed.append(f"security group {name} ({group['GroupId']})")
        removed += iam.remove_profile(aws, stack)
        return removed

    def remains(self, stack: Stack, state: StateDir) -> list[str]:
        aws = Aws(settings_of(stack))
        left = [f"instance {name} ({i['InstanceId']}, {i['State']['Name']})" for name, i in instances.find(aws, stack).items()]
        for name in (network.lb_group_name(stack), network.group_name(stack)):
            if (group := network.find_group(aws, stack, name)) is not None:
                left.append(f"security group {name} ({group['GroupId']})")
        return left + iam.remains(aws, stack)

    def ssh_argv(self, stack: Stack, state: StateDir, node: str, command: list[str]) -> list[str]:
        from blackfish.pki import sshkey

        target = stack.node(node)
        return ["ssh", "-i", str(state.file(sshkey.PRIVATE)), "-o", "IdentitiesOnly=yes",
                "-o", f"UserKnownHostsFile={state.file('ssh/known_hosts')}", "-o", "StrictHostKeyChecking=accept-new",
                f"core@{target.ip}", *command]

    def engine_endpoint(self, stack: Stack, state: StateDir, node: Node) -> tuple[str, int]:
        """The node's private address: the operator reaches the VPC (VPN, peering, a bastion), see docs/aws.md."""
        return node.ip, DOCKER_TLS_PORT

    # --- steps -------------------------------------------------------------------------

    def _user_data(self, state: StateDir, node: Node) -> bytes:
        from blackfish.render import user_data_path

        text = state.read(user_data_path(node.name))
        if text is None:
            raise ProviderError(f"{node.name}: no user-data at {state.file(user_data_path(node.name))}")
        try:
            return userdata.checked(node.name, text.decode())
        except userdata.UserDataTooLarge as exc:
            raise UsageError(str(exc)) from None

    def _reprovision(self, aws: Aws, stack: Stack, existing: dict, documents: dict, say) -> None:
        """EC2 changes user-data only on a stopped instance: stop, replace, start the nodes whose changed."""
        changed = {name: i for name, i in existing.items()
                   if instances.user_data_of(aws, i["InstanceId"]) != documents[name]}
        for name in changed:
            say(name, "stopping to replace its user-data")
        instances.stop(aws, [i for i in changed.values() if i["State"]["Name"] != "stopped"])
        for name, instance in changed.items():
            aws.call(aws.ec2, "modify_instance_attribute", InstanceId=instance["InstanceId"],
                     UserData={"Value": documents[name]})
        instances.start(aws, list(changed.values()))


def _delete_group(aws: Aws, group_id: str) -> None:
    import botocore.exceptions

    deadline = time.monotonic() + GROUP_DELETE_SECONDS
    with translated("delete_security_group"):
        while True:
            try:
                aws.ec2.delete_security_group(GroupId=group_id)
                return
            except botocore.exceptions.ClientError as exc:
                if not (error_code(exc) == "DependencyViolation" and time.monotonic() < deadline):
                    raise
            time.sleep(5)
