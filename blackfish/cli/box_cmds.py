"""Commands about the Blackfish box that packer/ bakes: `box images`."""

from __future__ import annotations

import click

from blackfish.model.box import FORMATS


@click.group()
def box():
    """The Flatcar box that packer/ bakes with the service images pre-pulled."""


@box.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text: one image a line; json: {service: image}, the file packer/ reads.")
@click.option("-f", "--file", "nodes_file", metavar="PATH", default=None,
              help="Apply this nodes file's `images:` overrides [default: the pinned images only].")
def images(fmt, nodes_file):
    """Print the images a box pre-pulls (the list packer/blackfish.pkr.hcl consumes).

    \b
      blackfish box images --format json > packer/images.json
    """
    from blackfish.model.box import box_images, render

    overrides = None
    if nodes_file is not None:
        from blackfish.cli.common import load_config

        overrides = load_config(nodes_file).config.images
    click.echo(render(box_images(overrides), fmt), nl=False)
