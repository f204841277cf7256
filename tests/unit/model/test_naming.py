"""The public-suffix rule for stack names: the one-label fast path says what the whole list says."""

from __future__ import annotations

from pathlib import Path

import publicsuffixlist

from blackfish.model import naming


def one_label_candidates() -> set[str]:
    """Every label the list's rules end with (the TLDs and more), as a stack could be named."""
    found = set()
    for line in Path(publicsuffixlist.PSLFILE).read_text(encoding="utf-8").splitlines():
        rule = line.split(maxsplit=1)[0] if line.strip() else ""
        if rule and not rule.startswith("//"):
            label = rule.lstrip("!").rsplit(".", 1)[-1].removeprefix("*")
            if label:
                found.add(label if label.isascii() else label.encode("idna").decode("ascii"))
    return found


def test_one_label_names_are_public_exactly_when_the_whole_list_says_so():
    full = publicsuffixlist.PublicSuffixList(accept_unknown=False)
    names = one_label_candidates() | {"vagrant", "demo", "blackfish", "kawasaki", "www", "xn--p1ai"}
    assert len(names) > 1000
    differ = [name for name in sorted(names) if naming.is_public_suffix(name) != full.is_public(name)]
    assert differ == []
    assert naming.is_public_suffix("com") and naming.is_public_suffix("ck") and naming.is_public_suffix("xn--p1ai")
    assert not naming.is_public_suffix("vagrant")


def test_the_list_is_read_from_the_package_import_would_load():
    assert naming._list_file() == publicsuffixlist.PSLFILE
