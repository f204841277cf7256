#!/bin/sh
# Pull the images blackfish pins (BLACKFISH_IMAGES, from packer/images.json) into the box's
# docker engine, so that booting a node does not pull them. Runs as root in the build VM.
set -eu

: "${BLACKFISH_IMAGES:?no images: packer sets BLACKFISH_IMAGES from images.json}"

for image in $BLACKFISH_IMAGES; do
  attempt=1
  until docker pull "$image"; do
    if [ "$attempt" -ge 3 ]; then
      echo "pull-images: cannot pull $image after $attempt attempts" >&2
      exit 1
    fi
    attempt=$((attempt + 1))
    sleep 10
  done
done

# What the nodes will look for, by the exact reference they run.
for image in $BLACKFISH_IMAGES; do
  docker image inspect --format "$image {{.Id}}" "$image"
done
