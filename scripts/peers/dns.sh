#!/usr/bin/env bash
# Install what the DNS tests and benchmark use, idempotently: BIND 9 (`named`, as the upstream
# forwarder, as a secondary and as the benchmark's peer), `dig` (bind9-dnsutils) and dnsperf.
# Debian's bind9 package does not start a server in a container without systemd; if one runs,
# the tests do not touch it (they use their own namespaces). Prints nothing on stdout.
set -euo pipefail
missing=()
command -v named >/dev/null 2>&1 || missing+=(bind9)
command -v dig >/dev/null 2>&1 || missing+=(bind9-dnsutils)
command -v dnsperf >/dev/null 2>&1 || missing+=(dnsperf)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  echo "installing: ${missing[*]}" >&2
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
