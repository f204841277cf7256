"""Where the built-in templates are: inside the installed package, or the repository's."""

from __future__ import annotations

from pathlib import Path


def builtin_templates() -> Path:
    # A wheel carries them as blackfish/templates (see pyproject.toml); a source checkout
    # (editable install, tests) has them at the top level, next to the package.
    here = Path(__file__).resolve().parents[1]  # the blackfish package
    for candidate in (here / "templates", here.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("blackfish's templates are missing from this installation")
