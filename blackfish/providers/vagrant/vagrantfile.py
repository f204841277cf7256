"""The generated Vagrantfile: templates/Vagrantfile.j2 filled from the Stack.

Static Ruby, one `config.vm.define` per node with every value written out, so Vagrant never
reads nodes.yml and a reader sees exactly what boots. It names files of the state directory
(each node's user-data, the stack's SSH key) and never carries their contents: no secret
is ever in the Vagrantfile.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from blackfish.pki import sshkey
from blackfish.model.stack import Stack
from blackfish.state import StateDir

TEMPLATE = "Vagrantfile.j2"
MIN_VAGRANT = "2.3.0"
# Where the box's OEM path unit looks for user-data: Flatcar, and CoreOS-era boxes (runtime: rkt).
USER_DATA_DIRS = {"docker": "/var/lib/flatcar-vagrant", "rkt": "/var/lib/coreos-vagrant"}


def user_data_file(state: StateDir, node: str) -> Path:
    """A node's rendered user-data in the state directory (written by blackfish.render)."""
    from blackfish.state import user_data_path

    return state.file(user_data_path(node))


def vm_name(stack: Stack, node: str) -> str:
    """The VM's name in VirtualBox/Parallels/...: unique on the host across stacks."""
    return f"blackfish-{stack.name}-{node}"


@dataclass(frozen=True)
class _NodeView:
    name: str
    ip: str
    roles: tuple[str, ...]
    memory: int
    cpus: int
    vm_name: str
    user_data: str


@dataclass(frozen=True)
class _LibvirtView:
    driver: str
    domain_prefix: str
    admin_network: str
    management_network: str
    management_address: str


def render_vagrantfile(stack: Stack, state: StateDir, templates: Path | None = None) -> str:
    """The Vagrantfile's text; a Vagrantfile.j2 in the user's templates directory wins."""
    network = ipaddress.ip_network(stack.admin_network, strict=False)
    nodes = [
        _NodeView(n.name, n.ip, n.roles, n.memory, n.cpus, vm_name(stack, n.name), str(user_data_file(state, n.name)))
        for n in stack.nodes
    ]
    from blackfish.providers.libvirt import driver, names

    libvirt = _LibvirtView(
        driver=driver.choose(stack.libvirt_driver),
        domain_prefix=names.domain_prefix(stack),
        admin_network=names.admin_network(stack),
        management_network=names.management_network(stack),
        management_address=names.management_address(stack),
    )
    template = _environment(templates or stack.templates).get_template(TEMPLATE)
    return template.render(
        stack=stack,
        # One line whatever the path holds: it goes into a Ruby comment.
        source=" ".join(str(stack.source).split()) if stack.source else None,
        nodes=nodes,
        box=stack.box,
        box_url=stack.box_url,
        netmask=str(network.netmask) if network.version == 4 else str(network.prefixlen),
        ssh_keys=[str(key) for key in ssh_keys(stack, state)],
        user_data_dir=USER_DATA_DIRS[stack.runtime],
        min_vagrant=MIN_VAGRANT,
        libvirt=libvirt,
    )


def ssh_keys(stack: Stack, state: StateDir) -> list[Path]:
    """The keys Vagrant offers, in order: `private-ssh-key` from nodes.yml (relative to the
    file), then the stack's own key."""
    keys = []
    if stack.private_ssh_key:
        key = Path(stack.private_ssh_key).expanduser()
        base = stack.source.parent if stack.source else Path.cwd()
        keys.append((base / key).resolve() if not key.is_absolute() else key)
    return keys + [state.file(sshkey.PRIVATE)]


def ruby_string(value) -> str:
    """A Ruby single-quoted literal: no interpolation, only \\ and ' need escaping."""
    text = str(value)
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _environment(user_templates: Path | None):
    from blackfish.render import environment

    # render's environment (user templates first, strict undefined), plus a Ruby quoting
    # filter in an overlay of our own, so the shared environment stays as render made it.
    env = environment(user_templates).overlay()
    env.filters = {**env.filters, "rb": ruby_string}
    return env
