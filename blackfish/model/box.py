"""The images a Blackfish box pre-pulls, and the file packer/ reads them from.

The images come from one place, `blackfish.model.images` (PINNED, plus a stack's `images:`
overrides when asked). `packer/images.json` is this module's JSON output, regenerated with
`blackfish box images --format json > packer/images.json`; a test keeps the two equal.
"""

from __future__ import annotations

import json

from blackfish.model import images
from blackfish.errors import UsageError

FORMATS = ("text", "json")
# Relative to the repository root; packer/blackfish.pkr.hcl reads it with file()/jsondecode().
PACKER_IMAGES_FILE = "packer/images.json"


def box_images(overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Service name -> image reference, as a box built from them would hold them."""
    return images.resolve(overrides or {})


def image_refs(service_images: dict[str, str]) -> list[str]:
    """Each distinct image reference once, in service order (what `docker pull` gets)."""
    return list(dict.fromkeys(service_images.values()))


def render(service_images: dict[str, str], fmt: str = "text") -> str:
    """The images as `blackfish box images` prints them: one reference a line (text), or
    the JSON object {service: image} that packer/blackfish.pkr.hcl consumes."""
    if fmt == "text":
        return "".join(f"{ref}\n" for ref in image_refs(service_images))
    if fmt == "json":
        return json.dumps(service_images, indent=2, sort_keys=True) + "\n"
    raise UsageError(f"unknown format {fmt!r} (choose one of: {', '.join(FORMATS)})")
