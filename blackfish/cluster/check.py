"""`blackfish check STACK`: the smoke test of a running stack, for people and for CI.

Every check talks to the nodes' engines over TLS with the stack's client certificate, so
it works whatever provider booted the stack:

- engine: each node's engine answers over TLS;
- swarm: each node is a ready swarm member in its planned role;
- service: a global service (the check image running `sleep`) gets a running task on every node;
- registry: one node pushes the check image to registry.service.<stack>:5000, another pulls it;
- consul: every node is an alive member of consul, asked over HTTPS on a consul server.

Consul is skipped, not failed, when no consul server node has the consul image: offline
nodes (the docker provider without a registry) cannot run it, and it is no part of the
swarm. Once a node has the image, consul must work. A check that cannot run because an
earlier one failed is skipped with the reason.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from dataclasses import asdict, dataclass

from blackfish.cluster import engines

from blackfish.cluster import readiness
from blackfish.model.stack import CONSUL_HTTPS_PORT, Node, Stack
from blackfish.state import CA_CERT, CLIENT_CERT, CLIENT_KEY, StateDir

DEFAULT_IMAGE = "busybox:1.37"
SERVICE_TIMEOUT = 120.0
GIVE_UP_AFTER = 3  # failed tasks on a node before the service check stops waiting for it
OK, FAIL, SKIP = "ok", "fail", "skip"


@dataclass(frozen=True)
class Result:
    check: str
    target: str
    result: str
    detail: str = ""


def run(stack: Stack, state: StateDir, image: str = DEFAULT_IMAGE, timeout: float = SERVICE_TIMEOUT) -> list[Result]:
    from blackfish import providers

    provider = providers.get(stack.provider)
    snap = readiness.snapshot(stack, state, lambda node: provider.engine_endpoint(stack, state, node))
    results = [_engine(snap, n) for n in stack.nodes] + [_swarm(snap, n) for n in stack.nodes]
    manager = stack.node(snap.members_from) if snap.members_from else None
    service = _service(stack, state, snap, manager, image, timeout)
    results.append(service)
    if stack.registries:
        results.append(_registry(stack, state, image, ready=service.result == OK))
    if stack.consul_servers:
        results.append(_consul(stack, state))
    return results


def passed(results: list[Result]) -> bool:
    return all(r.result != FAIL for r in results)


def as_rows(results: list[Result]) -> list[dict]:
    return [asdict(r) for r in results]


# --- the checks ----------------------------------------------------------------------

def _engine(snap: readiness.Snapshot, node: Node) -> Result:
    if node.name in snap.errors:
        return Result("engine", node.name, FAIL, f"{snap.endpoints[node.name]}: {snap.errors[node.name]}")
    return Result("engine", node.name, OK, f"docker {snap.infos[node.name].get('ServerVersion', '?')} over TLS")


def _swarm(snap: readiness.Snapshot, node: Node) -> Result:
    if node.name in snap.errors:
        return Result("swarm", node.name, SKIP, "its engine does not answer")
    problem = snap.problem(node)
    if problem:
        return Result("swarm", node.name, FAIL, problem)
    member = snap.member(node)
    return Result("swarm", node.name, OK, f"{member.role}, {member.state}, id {member.id[:12]}")


def _service(stack: Stack, state: StateDir, snap: readiness.Snapshot, manager: Node | None, image: str,
             timeout: float) -> Result:
    import docker

    if manager is None:
        return Result("service", "swarm", FAIL, "no manager answers with the swarm's node list")
    name = f"blackfish-check-{secrets.token_hex(3)}"
    engine = engines.client(manager, state, timeout=30)
    try:
        service = engine.services.create(image, command=["sleep", "600"], name=name,
                                         mode=docker.types.ServiceMode("global"),
                                         labels={"io.blackfish.check": "true"})
        try:
            missing, why = _await_tasks(service, stack, {m.id: m.hostname for m in snap.members or []}, timeout)
        finally:
            service.remove()
    except docker.errors.APIError as exc:
        return Result("service", "swarm", FAIL, f"cannot create a service through {manager.name}: {exc.explanation or exc}")
    finally:
        engine.close()
    if missing:
        return Result("service", "swarm", FAIL, f"global service {name} ({image}) not running on {', '.join(missing)} ({why})")
    return Result("service", "swarm", OK, f"global service {name} ({image}) ran on all {len(stack.nodes)} nodes")


def _await_tasks(service, stack: Stack, hostnames: dict[str, str], timeout: float) -> tuple[list[str], str]:
    """Wait for a running task on every node; return the nodes without one and why."""
    deadline = time.monotonic() + timeout
    while True:
        tasks = service.tasks()
        running = {hostnames.get(t["NodeID"]) for t in tasks if t["Status"]["State"] == "running"}
        missing = [n.name for n in stack.nodes if n.name not in running]
        if not missing:
            return [], ""
        failures = Counter(hostnames.get(t["NodeID"]) for t in tasks if t["Status"]["State"] in ("rejected", "failed"))
        hopeless = all(failures[n] >= GIVE_UP_AFTER for n in missing)
        if hopeless or time.monotonic() >= deadline:
            errors = sorted({t["Status"]["Err"] for t in tasks if t["Status"].get("Err")})
            why = "its tasks keep failing" if hopeless else f"after {timeout:.0f} s"
            return missing, why + (f"; task errors: {'; '.join(errors)}" if errors else "")
        time.sleep(1)


def _registry(stack: Stack, state: StateDir, image: str, ready: bool) -> Result:
    """Push from the first manager (only managers and operators may push, docs/security.md),
    pull on another node (the last), both through their engines."""
    target = stack.registry_host
    if not ready:
        return Result("registry", target, SKIP, f"the check image {image} is not on every node (see the service check)")
    pusher = stack.first_manager
    puller = next((n for n in reversed(stack.nodes) if n is not pusher), pusher)
    repository, tag = f"{target}/blackfish-check", secrets.token_hex(4)
    try:
        _on(pusher, state, lambda e: e.images.get(image).tag(repository, tag))
        try:
            _on(pusher, state, lambda e: _stream(e.api.push(repository, tag, stream=True, decode=True)))
        finally:
            _on(pusher, state, lambda e: e.images.remove(f"{repository}:{tag}"))
        if puller is not pusher:
            _on(puller, state, lambda e: _stream(e.api.pull(repository, tag, stream=True, decode=True)))
            _on(puller, state, lambda e: e.images.remove(f"{repository}:{tag}"))
    except Exception as exc:  # any failure is the check's finding
        return Result("registry", target, FAIL, f"{exc}")
    how = f"{pusher.name} pushed, {puller.name} pulled" if puller is not pusher else f"{pusher.name} pushed"
    return Result("registry", target, OK, f"{how} {repository}:{tag} over TLS")


def _consul(stack: Stack, state: StateDir) -> Result:
    image = stack.images["consul"]
    have = [n for n in stack.consul_servers if _has_image(n, state, image)]
    if not have:
        return Result("consul", "members", SKIP,
                      f"no consul server node has the image {image} (load it with `blackfish load {stack.name} {image}`)")
    import consul

    errors = []
    # Consul denies by default (docs/security.md): the operator asks with the management token.
    token = (state.read("secrets/consul-token-management") or b"").decode().strip() or None
    for server in have:
        try:
            client = consul.Consul(host=server.ip, port=CONSUL_HTTPS_PORT, scheme="https", verify=str(state.file(CA_CERT)),
                                   cert=(str(state.file(CLIENT_CERT)), str(state.file(CLIENT_KEY))), timeout=5, token=token)
            members = client.agent.members()
        except Exception as exc:  # the next server may answer
            errors.append(f"{server.name}: {engines.describe_error(exc)}")
            continue
        alive = {m["Name"] for m in members if m.get("Status") == 1}
        missing = [n.name for n in stack.nodes if n.name not in alive]
        if missing:
            return Result("consul", "members", FAIL, f"not alive in consul (asked {server.name}): {', '.join(missing)}")
        return Result("consul", "members", OK, f"all {len(stack.nodes)} nodes alive (asked {server.name})")
    return Result("consul", "members", FAIL, f"no consul server answers on :{CONSUL_HTTPS_PORT}: " + "; ".join(errors))


def _on(node: Node, state: StateDir, action):
    engine = engines.client(node, state, timeout=120)
    try:
        return action(engine)
    finally:
        engine.close()


def _stream(messages) -> None:
    for message in messages:
        if message.get("error"):
            raise RuntimeError(message["error"])


def _has_image(node: Node, state: StateDir, image: str) -> bool:
    import docker

    try:
        return _on(node, state, lambda e: bool(e.images.get(image)))
    except docker.errors.ImageNotFound:
        return False
    except Exception:  # an engine that does not answer has no usable image either
        return False
