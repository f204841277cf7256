"""Names that several modules agree on: default node names, reserved stack names, public suffixes."""

import functools

from blackfish.model.commands import COMMANDS

# A stack is reached as `blackfish STACK ...`, so it cannot share a name with a command.
RESERVED_STACK_NAMES = frozenset(COMMANDS) | {"help"}


def default_node_name(stack: str, index: int) -> str:
    """The seed's naming: the stack name and a two-digit ordinal, `vagrant-01`."""
    return f"{stack}-{index + 1:02d}"



def is_public_suffix(domain: str) -> bool:
    """True when domain is on the Public Suffix List (`com`, `dev`, `co.uk`, `github.io`): the
    stack's CA is name-constrained to its domain, so a stack named `com` would get a CA that
    a browser trusting it accepts for every .com site. The list is the `publicsuffixlist`
    package's copy of publicsuffix.org (updated with the package); names it does not know
    (`vagrant`, `demo`) are not public."""
    return _public_suffixes().is_public(domain)


@functools.lru_cache(maxsize=1)
def _public_suffixes():
    from publicsuffixlist import PublicSuffixList  # reads the list (~0.1 s): only when asked

    return PublicSuffixList(accept_unknown=False)
