"""After `vagrant provision NODE`: wait until the node has applied the user-data it was given.

The Vagrantfile's provisioner puts the new user-data in place and queues the restart of the
node's `user-cloudinit@<path>.service` (Flatcar's Vagrant contract, docs/libvirt.md), then
returns at once. Vagrant's provisioner channel is no place to wait for the apply: when its SSH
connection drops in the middle of a command, Vagrant reports the command as successful
("SSH connection unexpected closed. Assuming reboot or something."), and a long apply under
emulation is where that could happen. So blackfish waits here, through `vagrant ssh -c`, which
runs the system's ssh: a dropped connection exits 255, and the wait is tried again. (CI's
provision failures had another cause, an engine stop cancelled on the node: docs/libvirt.md.)
"""

from __future__ import annotations

import subprocess

from blackfish import tools
from blackfish.errors import ProviderError

SSH_FAILED = 255  # ssh's own exit code: the connection failed or dropped
ATTEMPTS = 3
# Longer than the apply unit may run (the test box gives it 15 minutes, Flatcar systemd's 90 s).
TIMEOUT_SECONDS = 20 * 60


def wait_script(user_data_dir: str) -> str:
    """A one-line sh script for the node: returns once no job of the apply unit is queued or
    running (the queued restart included); exits 1 with the unit's journal unless it is active."""
    unit = f"user-cloudinit@$(systemd-escape --path {user_data_dir}/vagrantfile-user-data).service"
    return (f'u="{unit}"; '
            # A glob: list-jobs reads the unit's escaped name (\x2d) as a pattern.
            "while [ -n \"$(systemctl list-jobs --no-legend 'user-cloudinit@*')\" ]; do sleep 2; done; "
            'state=$(systemctl is-active "$u"); [ "$state" = active ] && exit 0; '
            'echo "$u is $state after applying the new user-data:"; sudo -n journalctl --no-pager -n 30 -u "$u"; exit 1')


def wait_for_apply(node: str, argv: list[str], log) -> None:
    """Run the `vagrant ssh NODE -c <wait_script>` argv until it answers; its output goes to `log`
    (a callable taking one line). ProviderError when the apply failed or the node never answered."""
    output = ""
    for _ in range(ATTEMPTS):
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, errors="replace", timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            raise ProviderError(f"{node}: its new user-data was still being applied after "
                                f"{TIMEOUT_SECONDS // 60} minutes") from None
        output = proc.stdout
        for line in output.splitlines():
            log(f"    {node}: {line}")
        if proc.returncode == 0:
            return
        if proc.returncode != SSH_FAILED:
            raise ProviderError(f"{node}: its new user-data did not apply", detail=tools.tail(output))
    raise ProviderError(f"{node}: could not reach it over SSH to see its new user-data applied",
                        detail=tools.tail(output))
