"""Names that several modules agree on: DNS labels, stack names, default node names, public suffixes."""

import functools
import re
from pathlib import Path

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
    if is_public_suffix(name):
        return (f"{name!r} is a public suffix (a top-level domain like com or dev): the stack's CA would be "
                "trusted for every site under it; choose a name that is no internet domain")
    if name in RESERVED_STACK_NAMES:
        return f"{name!r} is a blackfish command; choose another name so `blackfish {name} ...` can reach the stack"
    return None


def default_node_name(stack: str, index: int) -> str:
    """The seed's naming: the stack name and a two-digit ordinal, `vagrant-01`."""
    return f"{stack}-{index + 1:02d}"



def is_public_suffix(domain: str) -> bool:
    """True when domain is on the Public Suffix List (`com`, `dev`, `co.uk`, `github.io`): the
    stack's CA is name-constrained to its domain, so a stack named `com` would get a CA that
    a browser trusting it accepts for every .com site. The list is the `publicsuffixlist`
    package's copy of publicsuffix.org (updated with the package); names it does not know
    (`vagrant`, `demo`) are not public."""
    if "." not in domain:  # a stack's name is one DNS label: no need to parse the whole list
        if domain.startswith("xn--"):  # the list writes IDN labels in Unicode
            try:
                domain = domain.encode("ascii").decode("idna")
            except UnicodeError:
                return False
        return domain in _one_label_suffixes()
    return _public_suffixes().is_public(domain)


@functools.lru_cache(maxsize=1)
def _one_label_suffixes() -> frozenset[str]:
    """The one-label public suffixes, read straight from the list: its top-level rules and
    the labels whose every subdomain is public (`*.ck`), as the list writes them (IDN ones in
    Unicode). Parsing the whole list (publicsuffixlist's 10,000 rules, each IDN-encoded) was
    half of `blackfish validate`."""
    import importlib.util

    spec = importlib.util.find_spec("publicsuffixlist")  # its path, without importing it (typing: 18 ms)
    found = set()
    with open(Path(spec.origin).with_name("public_suffix_list.dat"), encoding="utf-8") as f:
        for line in f:
            rule = line.split(maxsplit=1)[0] if line.strip() else ""  # a rule ends at whitespace
            if not rule or rule.startswith(("//", "!")):
                continue
            rule = rule.removeprefix("*.")
            if "." not in rule:
                found.add(rule)
    return frozenset(found)


@functools.lru_cache(maxsize=1)
def _public_suffixes():
    from publicsuffixlist import PublicSuffixList  # reads the list (~0.1 s): only when asked

    return PublicSuffixList(accept_unknown=False)
