#!/bin/sh
# What building Ingot's ephemeral images (crates/images) needs, idempotently: apt-get/apt-cache
# and dpkg-deb (always on Debian), ldd (libc-bin) and strip (binutils, optional: shrinks the
# agent). QEMU for the boot test comes from scripts/peers/qemu.sh.
# Prints the environment to use:  eval "$(scripts/peers/images.sh)"
set -eu
for tool in apt-get apt-cache dpkg-deb ldd; do
    command -v "$tool" >/dev/null 2>&1 || { echo "images.sh: $tool missing (not a Debian system?)" >&2; exit 1; }
done
if ! command -v strip >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends binutils >&2 \
        || echo "images.sh: binutils not installed; the agent goes into the initramfs unstripped" >&2
fi
REPO=$(cd "$(dirname "$0")/../.." && pwd)
echo "export INGOT_DEB_CACHE=\${INGOT_DEB_CACHE:-$REPO/target/deb-cache}"
