"""`certs install/uninstall`: the stack's CA in this machine's trust stores, and out again.

Three stores, each a small class with the same verbs (see trust.store): `system` (the OS bundle,
trust.system), `nss` (browsers' NSS databases, trust.nss) and `docker` (certs.d for the stack's
registry, trust.docker). The host is detected first (blackfish.host.detect); then each store
plans its commands and the Runner prints and runs them. A store this host lacks is skipped with
the reason, unless the user asked for it by name (`--only`), which makes that an error.
"""

from __future__ import annotations

from typing import Iterable

from blackfish.errors import MissingToolError, UsageError
from blackfish.host import Host, Runner, detect
from blackfish.model.stack import REGISTRY_PORT, Stack
from blackfish.state import CA_CERT, StateDir
from blackfish.host.trust import docker, nss, system
from blackfish.host.trust.store import Store, Target

STORE_NAMES = ("system", "nss", "docker")
TOOLS = system.TOOLS + nss.TOOLS + docker.TOOLS
CA_FILE = CA_CERT


def target_for(stack: Stack, state: StateDir) -> Target:
    registries: tuple[str, ...] = ()
    if stack.registries:
        registries = (stack.registry_host, *(f"{n.ip}:{REGISTRY_PORT}" for n in stack.registries))
    return Target(stack=stack.name, ca=state.file(CA_FILE), registries=registries)


def parse_only(value: str | None) -> tuple[str, ...] | None:
    """`--only system,nss`: the chosen stores, in their usual order; None for all."""
    if value is None:
        return None
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in STORE_NAMES]
    if unknown or not names:
        raise UsageError(f"--only: unknown store {', '.join(map(repr, unknown)) or repr(value)} "
                         f"(choose from {', '.join(STORE_NAMES)})")
    return tuple(n for n in STORE_NAMES if n in names)


def stores(target: Target, host: Host, only: Iterable[str] | None = None) -> list[Store]:
    make = {"system": system.system_store, "nss": nss.NssStore, "docker": docker.DockerStore}
    return [make[name](target, host) for name in (only or STORE_NAMES)]


def install(target: Target, runner: Runner, only: tuple[str, ...] | None = None, host: Host | None = None,
            allow_unconstrained: bool = False) -> None:
    """Trust the stack's CA here. A CA that could vouch for internet names or addresses is
    refused unless the user says they know (`--allow-unconstrained`), and then warned about."""
    pem = target.ca_pem()
    if pem is not None and (problems := constraint_problems(pem)):
        why = "; ".join(problems)
        if not allow_unconstrained:
            raise UsageError(f"{target.ca}: {why}: trusting it here would let whoever holds its key impersonate "
                             "internet sites to this machine; refusing (use --allow-unconstrained if you accept that)")
        runner.note(f"WARNING: {target.ca}: {why}: whoever holds its key can impersonate internet sites to this machine")
    _apply("install", target, runner, only, host)


def constraint_problems(ca_pem: bytes) -> list[str]:
    """Why this CA is not confined to private names and addresses (empty when it is)."""
    from cryptography import x509

    from blackfish.model.naming import is_public_suffix
    from blackfish.model.netaddr import is_private
    from blackfish.pki import certs

    ca = certs.load(ca_pem)
    if ca is None:
        return ["not a readable PEM certificate"]
    permitted = certs.permitted_of(ca)
    if not permitted:
        return ["the CA has no name constraints"]
    problems = []
    for name in permitted:
        if isinstance(name, x509.DNSName) and (not name.value.strip(".") or is_public_suffix(name.value.strip("."))):
            problems.append(f"it may sign names under the public suffix {name.value!r}")
        elif isinstance(name, x509.IPAddress) and not is_private(name.value):
            problems.append(f"it may sign addresses in the public network {name.value}")
        elif not isinstance(name, (x509.DNSName, x509.IPAddress)):
            problems.append(f"it permits {name!r}, which blackfish does not check")
    return problems


def uninstall(target: Target, runner: Runner, only: tuple[str, ...] | None = None, host: Host | None = None) -> None:
    _apply("uninstall", target, runner, only, host)


def _apply(verb: str, target: Target, runner: Runner, only, host: Host | None) -> None:
    chosen = stores(target, host or detect(TOOLS), only)
    usable = []
    for store in chosen:  # detection first: nothing changes when a store asked for by name is missing
        reason = store.unavailable()
        if reason is None:
            usable.append(store)
        elif only:
            raise MissingToolError(f"{store.name}: {reason}")
        else:
            runner.note(f"{store.title}: skipped: {reason}")
    for store in usable:
        commands = store.install() if verb == "install" else store.uninstall()
        if not commands:
            runner.note(f"{store.title}: {store.up_to_date() if verb == 'install' else 'nothing to remove'}")
            continue
        runner.note(f"{store.title}: {'installing' if verb == 'install' else 'removing'} {target.label}")
        runner.run(commands)
