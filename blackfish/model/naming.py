"""Names that several modules agree on: DNS labels, stack names, default node names, public suffixes."""

import functools
import os
import re
import sys

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
        return _is_one_label_rule(domain)
    return _public_suffixes().is_public(domain)


def _is_one_label_rule(label: str) -> bool:
    """Whether the list has a rule making label public: the top-level rule `label` or the
    rule `*.label` (every subdomain public), as the list writes them (IDN ones in Unicode).
    A few substring searches of the file: parsing the whole list (publicsuffixlist's 10,000
    rules, each IDN-encoded) was half of `blackfish validate`, reading it line by line a
    sixth, and one regular expression over it 2 ms."""
    with open(_list_file(), "rb") as f:
        text = b"\n" + f.read()
    # A rule is a whole line's first word (comments start with `//`, exceptions with `!`).
    for rule in (label, "*." + label):
        line_start = b"\n" + rule.encode()
        at = text.find(line_start)
        while at != -1:
            if text[at + len(line_start):at + len(line_start) + 1] in (b"", b" ", b"\t", b"\r", b"\n"):
                return True
            at = text.find(line_start, at + 1)
    return False


def _list_file() -> str:
    """The `publicsuffixlist` package's copy of the list, found where `import` would find the
    package, without importing it or importlib (each costs validate more than the search)."""
    for entry in sys.path:
        found = os.path.join(entry or os.curdir, "publicsuffixlist", "public_suffix_list.dat")
        if os.path.isfile(found):
            return found
    from publicsuffixlist import PSLFILE  # installed some other way (a zip, a custom finder)

    return PSLFILE


@functools.lru_cache(maxsize=1)
def _public_suffixes():
    from publicsuffixlist import PublicSuffixList  # reads the list (~0.1 s): only when asked

    return PublicSuffixList(accept_unknown=False)
