#!/bin/sh
# Leave a fresh Flatcar plus the pulled images: nothing that identifies this build VM may
# reach the nodes booted from the box. Runs as root in the build VM, last.
set -eu

systemctl stop docker.socket docker.service
# Each engine makes its own ID at first start.
rm -f /var/lib/docker/engine-id
rm -f /var/lib/flatcar-vagrant/vagrantfile-user-data /home/core/.bash_history /root/.bash_history

# Zero the free space so the compressed box stays small (dd stops at "no space left").
dd if=/dev/zero of=/var/zero bs=1M 2>/dev/null || true
rm -f /var/zero
sync

# SSH host keys, the machine ID and the journal go when the VM shuts down (see the unit).
install -m 0644 /tmp/blackfish-box-seal.service /run/systemd/system/blackfish-box-seal.service
systemctl daemon-reload
systemctl start blackfish-box-seal.service
