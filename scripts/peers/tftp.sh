#!/usr/bin/env bash
# Install what the TFTP tests use, idempotently: Debian's iPXE binaries (served in a test), the
# tftp-hpa client and curl (real clients). Prints nothing on stdout (no environment needed).
set -euo pipefail
missing=()
[ -e /usr/lib/ipxe/undionly.kpxe ] || missing+=(ipxe)
command -v udhcpc >/dev/null 2>&1 || missing+=(udhcpc)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v tftp >/dev/null 2>&1 || missing+=(tftp-hpa)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  echo "installing: ${missing[*]}" >&2
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
