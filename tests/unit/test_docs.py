"""The documentation: README.md stays short, every relative link in it and in docs/ resolves
(files and #anchors), and docs/architecture.md names no module the package lacks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO

README_LIMIT = 10 * 1024
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:", target)]


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    found = set()
    for heading in re.findall(r"^#+ (.+)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def test_the_readme_is_at_most_10_kb():
    assert len((REPO / "README.md").read_bytes()) <= README_LIMIT


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page):
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor}")
    assert broken == []


def test_the_anchor_rule_matches_github():
    page = REPO / "docs" / "docker-provider.md"
    assert "what-a-node-is" in anchors(page) and "blackfish-load-stack-image" in anchors(page)


def test_every_module_architecture_md_names_exists():
    """`foo/bar.py` (or `bar.py`) in docs/architecture.md is a file of the package, the tests,
    the benchmarks or the scripts."""
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:[\w./-]*/)?\w+\.py)`", text))
    files = {str(p.relative_to(REPO)) for d in ("blackfish", "tests", "bench") for p in (REPO / d).rglob("*.py")}
    missing = sorted(name for name in named if not any(f == name or f.endswith("/" + name) for f in files))
    assert missing == []
