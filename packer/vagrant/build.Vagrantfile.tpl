# The Vagrantfile packer's vagrant builder boots the build VM from. A Go template: packer
# fills in {{.BoxName}} (flatcar-<channel>) and {{.SourceBox}} (Flatcar's metadata URL of
# one release, .../amd64-usr/<version>/flatcar_production_vagrant.json).
#
# Packer's default template would use the URL as the box's name, which Vagrant refuses for
# a box with metadata ("has a name different from the name you requested").
metadata_url = "{{.SourceBox}}"
release = metadata_url[%r{/amd64-usr/(\d+\.\d+\.\d+)/}, 1] or
  raise "blackfish: no Flatcar release number in #{metadata_url}"

Vagrant.configure("2") do |config|
  config.vm.define "source", autostart: false do |source|
    source.vm.box = "{{.BoxName}}"
    source.vm.box_url = metadata_url
    # Pinned: another installed release of flatcar-<channel> must not be picked instead.
    source.vm.box_version = release
  end
  config.ssh.insert_key = false
  config.vm.synced_folder ".", "/vagrant", disabled: true
end
