#!/bin/sh
# What the image import tests (crates/ingot/tests/streams.rs) need on the host, idempotently:
# gpg (Debian's gnupg) to make a throwaway key and clear-sign the generated mirror's files.
set -eu
if ! command -v gpg >/dev/null 2>&1 || ! command -v gpgconf >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
    export DEBIAN_FRONTEND=noninteractive
    if ! $SUDO apt-get install -y -q --no-install-recommends gnupg gpg-agent >&2; then
        $SUDO apt-get update -q >&2
        $SUDO apt-get install -y -q --no-install-recommends gnupg gpg-agent >&2
    fi
fi
