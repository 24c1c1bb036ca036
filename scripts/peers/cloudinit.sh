#!/bin/sh
# Real cloud-init (Debian's package) for the tests that check what Ingot hands to it: the
# package is downloaded and unpacked under target/ (never installed: no cloud-init service
# on this host), its Python dependencies come from Debian. The tests run
# `python3 $INGOT_CLOUD_INIT/usr/bin/cloud-init schema|devel net-convert` with
# PYTHONPATH=$INGOT_CLOUD_INIT/usr/lib/python3/dist-packages.
# Prints the environment to use:  eval "$(scripts/peers/cloudinit.sh)"
set -eu
REPO=$(cd "$(dirname "$0")/../.." && pwd)
DEST="$REPO/target/cloud-init"
deps="python3-configobj python3-jinja2 python3-jsonpatch python3-jsonschema python3-netifaces python3-oauthlib python3-requests python3-yaml python3-serial"
missing=""
for p in $deps; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ] && [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing >&2 \
        || { apt-get update -q >&2; apt-get install -y -q --no-install-recommends $missing >&2; }
fi
if [ ! -x "$DEST/usr/bin/cloud-init" ]; then
    # A fresh clone has no target/ yet; dpkg-deb does not create parents.
    mkdir -p "$REPO/target"
    work=$(mktemp -d)
    (cd "$work" && apt-get download cloud-init >&2) \
        || { apt-get update -q >&2; (cd "$work" && apt-get download cloud-init >&2); }
    rm -rf "$DEST.tmp"
    dpkg-deb -x "$work"/cloud-init_*.deb "$DEST.tmp"
    rm -rf "$DEST" && mv "$DEST.tmp" "$DEST"
    rm -rf "$work"
fi
echo "export INGOT_CLOUD_INIT=$DEST"
