"""The libvirt provider: Vagrant + vagrant-libvirt with the stack's own names and networks
(names.py), the QEMU driver chosen by what this machine can run (driver.py), and what
libvirt holds of a stack, asked of virsh (resources.py). provider.py ties them to the
Vagrant provider."""
