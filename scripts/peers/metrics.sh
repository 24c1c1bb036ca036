#!/usr/bin/env bash
# Install what the metrics test uses, idempotently: Prometheus's `promtool` (Debian package
# prometheus; the server it also brings is not started). Prints nothing on stdout.
set -euo pipefail
if ! command -v promtool >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  echo "installing: prometheus (for promtool)" >&2
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
