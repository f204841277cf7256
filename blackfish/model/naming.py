"""Names that several modules agree on: default node names, reserved stack names."""

from blackfish.model.commands import COMMANDS

# A stack is reached as `blackfish STACK ...`, so it cannot share a name with a command.
RESERVED_STACK_NAMES = frozenset(COMMANDS) | {"help"}


def default_node_name(stack: str, index: int) -> str:
    """The seed's naming: the stack name and a two-digit ordinal, `vagrant-01`."""
    return f"{stack}-{index + 1:02d}"
