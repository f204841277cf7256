"""The box holds exactly what the nodes run: the images packer/ pulls are the images that
the rendered user-data of the example stack starts, with every optional service turned on."""

from __future__ import annotations

from pathlib import Path

import pytest

from blackfish.render import cloudinit

from blackfish.model import config
from blackfish.render import render_stack
from blackfish.state import StateDir
from blackfish.model.stack import plan
from tests.conftest import EXAMPLE
from tests.support import image_refs
from tests.support.packer import template_images

pytestmark = pytest.mark.integration

# What turns on the services the example leaves off (metrics -> telegraf, journald forwarding).
OPTIONAL = "influxdb-url: https://influxdb.example:8086/blackfish\njournald-sink: logs.example:5170\n"


def images_run_by(nodes_file: Path) -> dict[str, set[str]]:
    """Node name -> the images its rendered user-data starts."""
    stack = plan(config.load(nodes_file).config, source=nodes_file)
    state = StateDir(stack.name)
    render_stack(stack, state)
    found = {}
    for node in stack.nodes:
        text = state.read(f"nodes/{node.name}.user-data")
        assert text is not None, f"no user-data rendered for {node.name}"
        found[node.name] = image_refs.images(cloudinit.parse(text.decode(), f"{node.name}/user-data"))
    return found


def test_the_box_pulls_exactly_the_images_the_example_stack_runs(bf_home, tmp_path):
    example = tmp_path / "example" / "nodes.yml"
    example.parent.mkdir()
    example.write_text(EXAMPLE.read_text())
    everything = tmp_path / "everything" / "nodes.yml"
    everything.parent.mkdir()
    everything.write_text(EXAMPLE.read_text() + OPTIONAL)

    as_shipped = images_run_by(example)
    with_options = images_run_by(everything)

    pulled = set(template_images(tmp_path))
    run = set().union(*as_shipped.values(), *with_options.values())
    assert run == pulled, f"run but not in the box: {sorted(run - pulled)}; in the box but never run: {sorted(pulled - run)}"
    for name, refs in as_shipped.items():
        assert refs, f"{name}'s user-data starts no container"
