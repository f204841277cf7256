"""Names that several modules agree on: DNS labels, stack names, default node names."""

import re

from blackfish.model.commands import COMMANDS

# A stack is reached as `blackfish STACK ...`, so it cannot share a name with a command.
RESERVED_STACK_NAMES = frozenset(COMMANDS) | {"help"}

# RFC 1123 label, lowercase: stack names (the cluster's DNS domain), dc and node names.
DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def is_dns_label(text: str) -> bool:
    return DNS_LABEL.fullmatch(text) is not None


def stack_name_problem(name: str) -> str | None:
    """Why name cannot be a stack's name (None when it can): the one rule for nodes.yml, the
    command line and everything named after a stack (state directory, trust-store files)."""
    if not is_dns_label(name):
        return "must be a DNS label (lowercase letters, digits and '-', at most 63 characters): it is the cluster's DNS domain"
    if name in RESERVED_STACK_NAMES:
        return f"{name!r} is a blackfish command; choose another name so `blackfish {name} ...` can reach the stack"
    return None


def default_node_name(stack: str, index: int) -> str:
    """The seed's naming: the stack name and a two-digit ordinal, `vagrant-01`."""
    return f"{stack}-{index + 1:02d}"
