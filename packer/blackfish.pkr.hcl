# Bakes a Blackfish box: a Flatcar Container Linux Vagrant box whose docker engine already
# holds the system-service images blackfish pins, so nodes do not pull them at every boot.
#
#   blackfish box images --format json > packer/images.json   # only after changing the pins
#   packer build -var version=4459.2.0 packer/blackfish.pkr.hcl   # Debian's packer 1.6
#   packer init packer && packer build -var version=4459.2.0 packer   # Packer >= 1.7
#   vagrant box add blackfish packer/output/flatcar-stable-4459.2.0-virtualbox/package.box
#
# This file stands alone so that packer 1.6, which rejects the `required_plugins` block
# kept in plugins.pkr.hcl, can validate and build it; newer Packer reads the directory.
# docs/packer.md explains every step.

variable "channel" {
  type        = string
  default     = "stable"
  description = "The Flatcar release channel the box starts from."

  validation {
    condition     = contains(["stable", "beta", "alpha"], var.channel)
    error_message = "The channel must be one of stable, beta, alpha (the channels Flatcar publishes Vagrant boxes for)."
  }
}

variable "version" {
  type        = string
  description = "The Flatcar release to start from, e.g. 4459.2.0 (see https://www.flatcar.org/releases); pinned, so a build is repeatable."

  validation {
    # packer 1.6 has regex_replace but not regex.
    condition     = regex_replace(var.version, "^[0-9]+\\.[0-9]+\\.[0-9]+$", "") == ""
    error_message = "The version must be a Flatcar release number such as 4459.2.0, not \"current\": a box is built from one known release."
  }
}

variable "provider" {
  type        = string
  default     = "virtualbox"
  description = "The Vagrant provider to build for; Flatcar publishes its Vagrant box for virtualbox and parallels."

  validation {
    condition     = contains(["virtualbox", "parallels"], var.provider)
    error_message = "The provider must be virtualbox or parallels: Flatcar publishes no Vagrant box for other providers (libvirt included)."
  }
}

variable "images_file" {
  type        = string
  default     = ""
  description = "A JSON object {service: image} to pre-pull instead of images.json (e.g. `blackfish box images -f nodes.yml --format json`)."
}

locals {
  # The one list of images, written by `blackfish box images --format json`: never edit by hand.
  # abspath: file() resolves a relative path against the template's directory, people
  # mean their working directory.
  images_file = abspath(var.images_file != "" ? var.images_file : "${path.root}/images.json")
  images      = distinct(values(jsondecode(file(local.images_file))))

  # Flatcar's Vagrant metadata for one release: Vagrant checks the box against the checksum it lists.
  metadata_url = "https://${var.channel}.release.flatcar-linux.net/amd64-usr/${var.version}/flatcar_production_vagrant.json"
}

source "vagrant" "flatcar" {
  # The metadata names the box flatcar-<channel>; vagrant/build.Vagrantfile.tpl boots exactly
  # this release of it (vagrant adds it when missing), so no `vagrant box add` step here.
  source_path = local.metadata_url
  box_name    = "flatcar-${var.channel}"
  skip_add    = true
  template    = "${path.root}/vagrant/build.Vagrantfile.tpl"
  provider    = var.provider

  communicator    = "ssh"
  teardown_method = "destroy"
  output_dir      = "${path.root}/output/flatcar-${var.channel}-${var.version}-${var.provider}"
  # The packaged box keeps what Flatcar's own box sets (user core, no shared folder, ...).
  output_vagrantfile = "${path.root}/vagrant/box.Vagrantfile"
}

build {
  sources = ["source.vagrant.flatcar"]

  provisioner "shell" {
    # An update staged mid-build would make the box another release than `version`.
    inline = ["sudo systemctl stop update-engine.service"]
  }

  provisioner "shell" {
    script           = "${path.root}/scripts/pull-images.sh"
    environment_vars = ["BLACKFISH_IMAGES=${join(" ", local.images)}"]
    execute_command  = "chmod +x {{ .Path }}; sudo env {{ .Vars }} {{ .Path }}"
  }

  provisioner "file" {
    source      = "${path.root}/files/blackfish-box-seal.service"
    destination = "/tmp/blackfish-box-seal.service"
  }

  provisioner "shell" {
    script          = "${path.root}/scripts/cleanup.sh"
    execute_command = "chmod +x {{ .Path }}; sudo env {{ .Vars }} {{ .Path }}"
  }
}
