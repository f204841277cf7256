"""A node's user-data as EC2 gets it: within EC2's 16,384-byte limit.

The rendered user-data is 22-29 KB. Giving each `write_files` entry `encoding: gzip+base64`
(coreos-cloudinit's config/file.go) brings it to 16-21 KB only: PEM material barely
compresses, and units cannot be encoded. So the EC2 document is a small cloud-config whose one
file is the whole rendered user-data, gzip+base64, and whose one unit applies that file with
the node's own coreos-cloudinit (`--from-file`), on every boot like the metadata service's
user-data. What the node applies is byte for byte the render every other provider applies;
the `#cloud-config` header stays readable, so Ignition leaves the document to coreos-cloudinit.
"""

from __future__ import annotations

import base64
import gzip

import yaml

EC2_LIMIT = 16384
INNER_PATH = "/var/lib/blackfish/user-data"
APPLY_UNIT = "blackfish-user-data.service"

_UNIT = f"""[Unit]
Description=Blackfish: apply this node's user-data (kept compressed to fit EC2's 16 KB limit)
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
ExecStart=/usr/bin/coreos-cloudinit --from-file={INNER_PATH}
"""


class UserDataTooLarge(ValueError):
    pass


def pack(rendered: str) -> bytes:
    """The EC2 user-data for a rendered `#cloud-config` document."""
    # mtime=0: the same render always gives the same bytes (up compares them to what a node got).
    packed = base64.b64encode(gzip.compress(rendered.encode(), compresslevel=9, mtime=0)).decode()
    document = {
        "write_files": [{"path": INNER_PATH, "permissions": "0600", "encoding": "gzip+base64", "content": packed}],
        "coreos": {"units": [{"name": APPLY_UNIT, "command": "start", "content": _UNIT}]},
    }
    return ("#cloud-config\n" + yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=1 << 20)).encode()


def checked(node: str, rendered: str) -> bytes:
    data = pack(rendered)
    if len(data) > EC2_LIMIT:
        raise UserDataTooLarge(f"{node}: its user-data is {len(data)} bytes compressed, over EC2's limit of "
                               f"{EC2_LIMIT}; trim templates or labels")
    return data


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, so the unit reads as a unit file."""


def _str(dumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)
