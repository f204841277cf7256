"""Which image a node boots: the newest Flatcar AMI of a channel, for the instance type's
architecture, or the AMI id `box:` names.

Flatcar publishes its AMIs from one AWS account (075585003325) named
`Flatcar-<channel>-<version>-hvm`, for x86_64 and arm64 -- the filter Typhoon's
aws/flatcar-linux/ami.tf uses. Only that owner is searched, so an image someone else named
alike is never picked.
"""

from __future__ import annotations

from blackfish.errors import ProviderError, UsageError
from blackfish.model.aws import CHANNELS
from blackfish.providers.aws.session import Aws

FLATCAR_OWNER = "075585003325"
DEFAULT_CHANNEL = "stable"


def box_choice(box: str | None) -> tuple[str, str]:
    """("ami", id) or ("channel", name) for a stack's box (None or the Vagrant default: stable)."""
    if box and box.startswith("ami-"):
        return "ami", box
    channel = (box or DEFAULT_CHANNEL).removeprefix("flatcar-")
    if channel not in CHANNELS:
        raise UsageError(f"box {box!r} is neither a Flatcar channel ({', '.join(CHANNELS)}) nor an AMI id (ami-...)")
    return "channel", channel


def name_filter(channel: str) -> str:
    return f"Flatcar-{channel}-*-hvm"


def architecture(aws: Aws, instance_type: str) -> str:
    """The image architecture an instance type runs (x86_64 or arm64)."""
    found = aws.call(aws.ec2, "describe_instance_types", InstanceTypes=[instance_type])["InstanceTypes"]
    if not found:
        raise UsageError(f"instance type {instance_type!r} does not exist in {aws.settings.region}")
    supported = found[0].get("ProcessorInfo", {}).get("SupportedArchitectures", [])
    for arch in ("x86_64", "arm64"):
        if arch in supported:
            return arch
    raise UsageError(f"instance type {instance_type!r} runs {', '.join(supported) or 'no known architecture'}; "
                     "Flatcar has images for x86_64 and arm64 only")


def newest_flatcar(aws: Aws, channel: str, arch: str) -> dict:
    """The newest Flatcar image of a channel and architecture (by creation date)."""
    images = aws.call(aws.ec2, "describe_images", Owners=[FLATCAR_OWNER], Filters=[
        {"Name": "name", "Values": [name_filter(channel)]},
        {"Name": "architecture", "Values": [arch]},
        {"Name": "virtualization-type", "Values": ["hvm"]},
        {"Name": "state", "Values": ["available"]},
    ])["Images"]
    if not images:
        raise ProviderError(f"no Flatcar {channel} image for {arch} from owner {FLATCAR_OWNER} in {aws.settings.region} "
                            f"(searched {name_filter(channel)!r}); name an AMI with `box: ami-...`")
    return max(images, key=lambda image: (image.get("CreationDate", ""), image["Name"]))


def resolve(aws: Aws, box: str | None, instance_type: str) -> dict:
    """The image (describe_images' dict) a node of this instance type boots."""
    kind, value = box_choice(box)
    arch = architecture(aws, instance_type)
    if kind == "channel":
        return newest_flatcar(aws, value, arch)
    images = aws.call(aws.ec2, "describe_images", ImageIds=[value])["Images"]
    if not images:
        raise UsageError(f"box {value}: no such AMI in {aws.settings.region}")
    if images[0].get("Architecture") != arch:
        raise UsageError(f"box {value} is an {images[0].get('Architecture')} image, but {instance_type} runs {arch}")
    return images[0]
