#!/bin/sh
# What the real-image deployment tests need to build a Debian 12 root filesystem as Debian lays
# it out (crates/images/src/debian.rs), idempotently: mmdebstrap (Debian's bootstrapper) and
# gzip; ssh and ssh-keygen (openssh-client) for the end-to-end test's look into the deployed
# system. The image is cached outside the clone, in /var/cache/ingot-test/debian-image (kept
# between CI runs and sessions on this machine; target/ when not root), keyed by its package list.
# Prints the environment to use:  eval "$(scripts/peers/debian-image.sh)"
set -eu
missing=""
command -v mmdebstrap >/dev/null 2>&1 || missing="$missing mmdebstrap"
command -v gzip >/dev/null 2>&1 || missing="$missing gzip"
command -v ssh >/dev/null 2>&1 || missing="$missing openssh-client"
command -v ssh-keygen >/dev/null 2>&1 || missing="$missing openssh-client"
if [ -n "$missing" ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    if ! $SUDO apt-get install -y -q --no-install-recommends $missing >&2; then
        $SUDO apt-get update -q >&2
        # shellcheck disable=SC2086
        $SUDO apt-get install -y -q --no-install-recommends $missing >&2
    fi
fi
REPO=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=$REPO/target/debian-image-cache
if [ "$(id -u)" = 0 ]; then CACHE=/var/cache/ingot-test/debian-image; fi
echo "export INGOT_DEBIAN_IMAGE_CACHE=\${INGOT_DEBIAN_IMAGE_CACHE:-$CACHE}"
