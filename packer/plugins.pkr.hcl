# The plugins Packer >= 1.7 installs with `packer init packer` (1.7 moved builders out of
# Packer itself). Its own file because packer 1.6, Debian's, stops at this block
# ("Blocks of type required_plugins are not expected here"): with 1.6, build
# packer/blackfish.pkr.hcl alone; with newer Packer, build the directory.
packer {
  required_plugins {
    vagrant = {
      source  = "github.com/hashicorp/vagrant"
      version = ">= 1.1.0"
    }
  }
}
