"""provider aws against a real AWS API on this machine (moto server, real boto3 over HTTP):
what `up` makes, that a second `up` makes nothing, status, halt, destroy, and the errors a
user sees. Nothing boots and nothing dials a node: `up --no-wait`, no proxy, no readiness."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.aws.conftest import SUBNET_CIDR, write_nodes
from tests.conftest import assert_no_traceback, blackfish
from tests.support.motoserver import REGION

pytestmark = pytest.mark.integration

STACK_TAG, NODE_TAG = "io.blackfish.stack", "io.blackfish.node"
PROFILE = "blackfish-ec2lab-eu-west-1"
OPERATOR = "203.0.113.0/28"
# Every rule between the nodes (source: the stack's own group): protocol, first, last port.
CLUSTER = {("tcp", 2376, 2376), ("tcp", 2377, 2377), ("tcp", 7946, 7946), ("udp", 7946, 7946),
           ("udp", 4789, 4789), ("50", None, None), ("tcp", 8300, 8302), ("udp", 8301, 8302),
           ("tcp", 8501, 8501), ("tcp", 5000, 5000)}
FROM_OPERATOR = {("tcp", 22, 22), ("tcp", 2376, 2376), ("tcp", 8501, 8501), ("tcp", 5000, 5000)}


def up(nodes_yml, *extra):
    """`blackfish up` as the tests run it: never the readiness step (nothing boots in moto)."""
    return blackfish("up", "--no-wait", "-f", str(nodes_yml), *extra)


def live_instances(ec2) -> dict[str, dict]:
    reservations = ec2.describe_instances(Filters=[
        {"Name": f"tag:{STACK_TAG}", "Values": ["ec2lab"]},
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}])["Reservations"]
    found = {}
    for reservation in reservations:
        for instance in reservation["Instances"]:
            node = next(t["Value"] for t in instance["Tags"] if t["Key"] == NODE_TAG)
            assert node not in found, f"two instances for {node}"
            found[node] = instance
    return found


def stack_groups(ec2) -> dict[str, dict]:
    groups = ec2.describe_security_groups(Filters=[{"Name": f"tag:{STACK_TAG}", "Values": ["ec2lab"]}])["SecurityGroups"]
    return {g["GroupName"]: g for g in groups}


def rules(group: dict) -> set[tuple]:
    found = set()
    for p in group["IpPermissions"]:
        key = (p["IpProtocol"], p.get("FromPort"), p.get("ToPort"))
        if key[0] not in ("tcp", "udp"):
            key = (key[0], None, None)
        found |= {(*key, r["CidrIp"]) for r in p.get("IpRanges", [])}
        found |= {(*key, g["GroupId"]) for g in p.get("UserIdGroupPairs", [])}
    return found


def test_up_creates_exactly_the_planned_instances_group_rules_profile_and_tags(aws_env, ec2, nodes_yml, flatcar):
    result = up(nodes_yml)
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)

    found = live_instances(ec2)
    assert sorted(found) == ["ec2lab-01", "ec2lab-02", "ec2lab-03"]
    assert {n: i["PrivateIpAddress"] for n, i in found.items()} == {
        "ec2lab-01": "10.77.1.11", "ec2lab-02": "10.77.1.12", "ec2lab-03": "10.77.1.13"}
    assert {n: i["InstanceType"] for n, i in found.items()} == {
        "ec2lab-01": "t3.medium", "ec2lab-02": "t3.medium", "ec2lab-03": "t4g.medium"}
    # The newest stable Flatcar for each node's architecture (t4g is arm64), never the older one.
    assert {n: i["ImageId"] for n, i in found.items()} == {
        "ec2lab-01": flatcar["x86_64"], "ec2lab-02": flatcar["x86_64"], "ec2lab-03": flatcar["arm64"]}
    groups = stack_groups(ec2)
    assert sorted(groups) == ["blackfish-ec2lab", "blackfish-ec2lab-lb"]
    main, lb = groups["blackfish-ec2lab"]["GroupId"], groups["blackfish-ec2lab-lb"]["GroupId"]
    for name, instance in found.items():
        assert instance["MetadataOptions"]["HttpTokens"] == "required"
        assert instance["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
        assert instance["IamInstanceProfile"]["Arn"].endswith(f":instance-profile/{PROFILE}")
        tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
        assert (tags[STACK_TAG], tags[NODE_TAG]) == ("ec2lab", name)
        wanted_groups = {main, lb} if name == "ec2lab-03" else {main}
        assert {g["GroupId"] for g in instance["SecurityGroups"]} == wanted_groups
        volumes = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [instance["InstanceId"]]}])["Volumes"]
        assert volumes and all(v["Encrypted"] for v in volumes)
        assert all({"Key": NODE_TAG, "Value": name} in v["Tags"] for v in volumes)

    assert rules(groups["blackfish-ec2lab"]) == {(*r, main) for r in CLUSTER} | {(*r, OPERATOR) for r in FROM_OPERATOR}
    # Public: only the lb's HTTP port, only in the group only the lb node carries.
    assert rules(groups["blackfish-ec2lab-lb"]) == {("tcp", 80, 80, "0.0.0.0/0")}
    for group in groups.values():
        assert {"Key": STACK_TAG, "Value": "ec2lab"} in group["Tags"]

    iam = boto3.client("iam")
    profile = iam.get_instance_profile(InstanceProfileName=PROFILE)["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [PROFILE]
    assert {"Key": STACK_TAG, "Value": "ec2lab"} in iam.get_role(RoleName=PROFILE)["Role"]["Tags"]
    assert iam.list_role_policies(RoleName=PROFILE)["PolicyNames"] == ["blackfish-registry-bucket"]
    document = iam.get_role_policy(RoleName=PROFILE, PolicyName="blackfish-registry-bucket")["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    resources = {s["Resource"] for s in document["Statement"]}
    assert resources == {"arn:aws:s3:::cloud-registry-store", "arn:aws:s3:::cloud-registry-store/*"}


def test_a_second_up_creates_nothing(aws_env, ec2, nodes_yml):
    assert up(nodes_yml).returncode == 0
    before = ({n: i["InstanceId"] for n, i in live_instances(ec2).items()},
              {n: (g["GroupId"], rules(g)) for n, g in stack_groups(ec2).items()})
    again = up(nodes_yml)
    assert again.returncode == 0, again.stderr
    after = ({n: i["InstanceId"] for n, i in live_instances(ec2).items()},
             {n: (g["GroupId"], rules(g)) for n, g in stack_groups(ec2).items()})
    assert after == before
    assert len(ec2.describe_instances()["Reservations"]) == 3


def test_up_closes_what_nodes_yml_no_longer_opens(aws_env, ec2, nodes_yml):
    assert up(nodes_yml).returncode == 0
    nodes_yml.write_text(nodes_yml.read_text().replace("operator-cidr: 203.0.113.0/28\n", "")
                         .replace("lb-public-ports: [80]\n", ""))
    again = up(nodes_yml)
    assert again.returncode == 0, again.stderr
    groups = stack_groups(ec2)
    main = groups["blackfish-ec2lab"]["GroupId"]
    assert rules(groups["blackfish-ec2lab"]) == {(*r, main) for r in CLUSTER}
    assert rules(groups["blackfish-ec2lab-lb"]) == set()


def test_status_halt_up_and_destroy_leave_nothing_tagged(aws_env, ec2, nodes_yml):
    assert up(nodes_yml).returncode == 0
    ids = {n: i["InstanceId"] for n, i in live_instances(ec2).items()}

    status = blackfish("status", "ec2lab", "--json")
    assert status.returncode == 0, status.stderr
    rows = json.loads(status.stdout)
    assert {r["node"]: (r["state"], r["instance"]) for r in rows} == {n: ("running", i) for n, i in ids.items()}

    halted = blackfish("halt", "ec2lab")
    assert halted.returncode == 0, halted.stderr
    assert {n: i["State"]["Name"] for n, i in live_instances(ec2).items()} == {n: "stopped" for n in ids}
    assert {r["state"] for r in json.loads(blackfish("status", "ec2lab", "--json").stdout)} == {"stopped"}

    assert up(nodes_yml).returncode == 0
    assert {n: (i["InstanceId"], i["State"]["Name"]) for n, i in live_instances(ec2).items()} == \
        {n: (i, "running") for n, i in ids.items()}

    destroyed = blackfish("destroy", "ec2lab", "--yes")
    assert destroyed.returncode == 0, destroyed.stderr
    assert live_instances(ec2) == {}
    assert stack_groups(ec2) == {}
    iam = boto3.client("iam")
    assert [p for p in iam.list_instance_profiles()["InstanceProfiles"] if p["InstanceProfileName"] == PROFILE] == []
    assert [r for r in iam.list_roles()["Roles"] if r["RoleName"] == PROFILE] == []
    terminated = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    assert {i["State"]["Name"] for i in terminated} == {"terminated"}
    assert {r["state"] for r in json.loads(blackfish("status", "ec2lab", "--json").stdout)} == {"not_created"}


def test_no_credentials_exit_3_and_say_what_to_set(aws_env, monkeypatch, ec2, nodes_yml):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = up(nodes_yml)
    assert result.returncode == 3, result.stderr
    assert_no_traceback(result)
    assert "no AWS credentials found" in result.stderr
    assert "AWS_PROFILE" in result.stderr and "AWS_ACCESS_KEY_ID" in result.stderr
    assert live_instances(ec2) == {}


def test_an_access_key_id_other_than_the_chains_is_refused(aws_env, tmp_path, subnet, flatcar, ec2):
    path = write_nodes(tmp_path, subnet)
    path.write_text(path.read_text() + "access-key-id: AKIAAAAAAAAAAAAAAAAA\n")
    result = up(path)
    assert result.returncode == 2, result.stderr
    assert "access-key-id in nodes.yml is AKIAAAAAAAAAAAAAAAAA" in result.stderr
    assert live_instances(ec2) == {}


def test_admin_network_other_than_the_subnet_cidr_exit_2(aws_env, tmp_path, subnet, flatcar, ec2):
    path = write_nodes(tmp_path, subnet, cidr="10.77.0.0/16")
    result = up(path)
    assert result.returncode == 2, result.stderr
    assert_no_traceback(result)
    assert f"admin-network 10.77.0.0/16 is not the CIDR of subnet {subnet['SubnetId']} ({SUBNET_CIDR})" in result.stderr
    assert live_instances(ec2) == {} and stack_groups(ec2) == {}


def test_an_api_error_exits_1_with_aws_message(aws_env, tmp_path, subnet, flatcar, ec2):
    path = write_nodes(tmp_path, subnet)
    path.write_text(path.read_text().replace(subnet["SubnetId"], "subnet-0123456789abcdef0"))
    result = up(path)
    assert result.returncode == 1, result.stderr
    assert_no_traceback(result)
    assert "AWS describe_subnets failed: InvalidSubnetID.NotFound" in result.stderr
    assert "subnet-0123456789abcdef0" in result.stderr


def test_dry_run_prints_the_plan_and_calls_no_aws(tmp_path, bf_home, monkeypatch):
    # No endpoint, no credentials: any AWS call would fail (exit 1 or 3).
    for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    path = write_nodes(tmp_path, {"SubnetId": "subnet-0123456789abcdef0", "CidrBlock": SUBNET_CIDR})
    result = blackfish("up", "--dry-run", "-f", str(path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("  instance ec2lab-03: t4g.medium at 10.77.1.13") and "blackfish-ec2lab-lb" in line
               and "IMDSv2 required (hop limit 1)" in line and "encrypted" in line for line in lines)
    assert "    ingress tcp 80 from 0.0.0.0/0: lb HTTP, public because lb-public-ports asks" in lines
    assert "    ingress tcp 2376 from 203.0.113.0/28: docker engine API over TLS (the blackfish proxy, env, context)" in lines
    assert any(f"IAM role and instance profile {PROFILE}" in line for line in lines)
    assert not bf_home.exists()  # nothing written either


def test_the_flatcar_image_is_the_newest_of_the_channel_for_the_architecture(aws_env, flatcar, ec2):
    from blackfish.model.aws import AwsSettings
    from blackfish.providers.aws import ami
    from blackfish.providers.aws.session import Aws

    aws = Aws(AwsSettings(region=REGION, subnet_id="subnet-0123456789abcdef0"))
    assert ami.resolve(aws, None, "t3.medium")["ImageId"] == flatcar["x86_64"]
    assert ami.resolve(aws, "flatcar-stable", "m7g.large")["ImageId"] == flatcar["arm64"]
    assert ami.resolve(aws, "beta", "t3.micro")["ImageId"] == flatcar["beta"]
    assert ami.resolve(aws, flatcar["old"], "t3.micro")["ImageId"] == flatcar["old"]
    from blackfish.errors import BlackfishError

    with pytest.raises(BlackfishError, match="no Flatcar alpha image for x86_64 from owner 075585003325"):
        ami.resolve(aws, "alpha", "t3.micro")
    with pytest.raises(BlackfishError, match="is an x86_64 image, but t4g.small runs arm64"):
        ami.resolve(aws, flatcar["old"], "t4g.small")
