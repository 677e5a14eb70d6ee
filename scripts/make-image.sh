#!/usr/bin/env bash
# Make the tests' image, netwrap-busybox:latest, if it is missing. There is no image
# registry here, so it is imported from a rootfs holding the static busybox and one
# link per applet:
#   rootfs/bin/busybox, rootfs/bin/sh -> busybox, rootfs/bin/ip -> busybox, ...
#   tar -C rootfs -c . | docker import -c 'ENV PATH=/bin' - netwrap-busybox:latest
# Usage: scripts/make-image.sh [IMAGE]   (needs busybox-static and a running dockerd)
set -euo pipefail
image=${1:-netwrap-busybox:latest}
docker=${DOCKER:-docker}

if "$docker" image inspect "$image" >/dev/null 2>&1; then
  exit 0
fi
busybox=/bin/busybox
[ -x "$busybox" ] || busybox=/usr/bin/busybox
if ! file -L "$busybox" 2>/dev/null | grep -q "statically linked"; then
  # Without `file`, trust the package: busybox-static installs /bin/busybox.
  dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "install ok installed" \
    || { echo "make-image: need a static busybox (apt-get install busybox-static)" >&2; exit 1; }
fi

rootfs=$(mktemp -d /tmp/netwrap-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/etc"
cp "$busybox" "$rootfs/bin/busybox"
for applet in $("$busybox" --list); do
  # A link called busybox would replace the binary itself with a link to nothing.
  [ "$applet" = busybox ] && continue
  ln -s busybox "$rootfs/bin/$applet"
done
tar -C "$rootfs" -c . | "$docker" import -c 'ENV PATH=/bin' - "$image" >/dev/null
echo "make-image: imported $image ($("$busybox" --list | wc -l) busybox applets)"
