"""A hand-built blackfish.host.Host: any OS, any tools, a directory tree as its filesystem root."""

from __future__ import annotations

from pathlib import Path

from blackfish.host import Host


def fake_host(tmp_path: Path, platform: str = "linux", tools=(), dirs=(), files: dict[str, str] | None = None) -> Host:
    """dirs and files are absolute paths created under tmp_path/root; home is tmp_path/home."""
    root = tmp_path / "root"
    for d in dirs:
        (root / d.lstrip("/")).mkdir(parents=True, exist_ok=True)
    for path, text in (files or {}).items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return Host(platform=platform, home=home, root=root, tools={t: f"/usr/bin/{t}" for t in tools})
