"""The docker provider's node image: which one a stack uses, and building the default one.

`--node-image` on `up` or `node-image:` in nodes.yml (both land in Stack.node_image), else
$BLACKFISH_NODE_IMAGE, else blackfish/node:<version>, which `up` builds from
images/node/Dockerfile when the engine lacks it. Without a reachable registry that build
cannot pull its base image; images/node/build-offline makes the same image from Debian
packages instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from blackfish import __version__
from blackfish.errors import ProviderError, UsageError
from blackfish.model.stack import Stack

IMAGE_ENV = "BLACKFISH_NODE_IMAGE"
DEFAULT_IMAGE = f"blackfish/node:{__version__}"


def node_image(stack: Stack) -> str:
    return stack.node_image or os.environ.get(IMAGE_ENV) or DEFAULT_IMAGE


def build_context() -> Path:
    # A wheel carries images/node as blackfish/node_image (pyproject.toml); a source
    # checkout has it at the top level.
    here = Path(__file__).resolve().parents[2]  # the blackfish package
    for candidate in (here / "node_image", here.parent / "images" / "node"):
        if (candidate / "Dockerfile").is_file():
            return candidate
    raise ProviderError("the node image's Dockerfile is missing from this installation")


def check_node_image(client, image: str) -> None:
    """A chosen node image (not the default, which `up` builds) must be on the engine: bad input otherwise."""
    from docker.errors import ImageNotFound

    if image == DEFAULT_IMAGE:
        return
    try:
        client.images.get(image)
    except ImageNotFound:
        raise UsageError(f"node image {image!r} is not on the docker engine; pull or build it "
                         f"(or unset --node-image / node-image / ${IMAGE_ENV} to use {DEFAULT_IMAGE})") from None


def ensure_node_image(client, image: str, progress=None) -> None:
    """Make sure the engine has `image`; build the default one when it is missing."""
    from docker.errors import BuildError, ImageNotFound, APIError

    try:
        client.images.get(image)
        return
    except ImageNotFound:
        check_node_image(client, image)
    context = build_context()
    if progress:
        progress(f"building the node image {image} from {context / 'Dockerfile'} (once)")
    try:
        client.images.build(path=str(context), tag=image, rm=True, pull=False)
    except (BuildError, APIError) as exc:
        raise ProviderError(
            f"cannot build the node image {image}: {exc}; without a registry, build it from Debian "
            f"packages with `sudo {context / 'build-offline'}`"
        ) from None
