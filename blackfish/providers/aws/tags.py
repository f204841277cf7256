"""The two tags every resource of a stack carries, and the filters that find them again."""

from __future__ import annotations

STACK = "io.blackfish.stack"
NODE = "io.blackfish.node"


def of(stack, node=None) -> list[dict]:
    found = [{"Key": STACK, "Value": stack.name}]
    if node is not None:
        found += [{"Key": NODE, "Value": node.name}, {"Key": "Name", "Value": node.name}]
    else:
        found += [{"Key": "Name", "Value": f"blackfish-{stack.name}"}]
    return found


def spec(resource_type: str, stack, node=None) -> dict:
    return {"ResourceType": resource_type, "Tags": of(stack, node)}


def stack_filter(stack) -> dict:
    return {"Name": f"tag:{STACK}", "Values": [stack.name]}


def value(resource: dict, key: str) -> str | None:
    return next((t["Value"] for t in resource.get("Tags", []) if t["Key"] == key), None)
