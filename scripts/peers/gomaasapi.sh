#!/usr/bin/env bash
# Juju's MAAS client library for the compatibility test (crates/ingot/tests/juju_gomaasapi.rs):
# Debian's golang-go and golang-github-juju-gomaasapi-dev (gomaasapi 2.0), and the test's Go
# program (crates/ingot/tests/juju_gomaasapi/*.go) built offline against them. Idempotent.
#
#   eval "$(scripts/peers/gomaasapi.sh)"     # exports INGOT_GOMAASAPI_BIN
#
# Progress goes to stderr; the only stdout line is `export INGOT_GOMAASAPI_BIN=...`.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SRC="$REPO/crates/ingot/tests/juju_gomaasapi"
OUT=${INGOT_GOMAASAPI_DIR:-$REPO/target/gomaasapi}

need=()
dpkg -s golang-go >/dev/null 2>&1 || need+=(golang-go)
dpkg -s golang-github-juju-gomaasapi-dev >/dev/null 2>&1 || need+=(golang-github-juju-gomaasapi-dev)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "gomaasapi.sh: ERROR: install ${need[*]} as root" >&2; exit 1; }
  echo "gomaasapi.sh: installing ${need[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

# GOPATH mode over Debian's /usr/share/gocode: gomaasapi's go.mod (module .../v2) is ignored,
# so `import "github.com/juju/gomaasapi"` is Debian's 2.0 sources. No network: GOPROXY=off.
mkdir -p "$OUT"
(cd "$SRC" && env GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= \
  GOCACHE="$OUT/gocache" go build -o "$OUT/juju-gomaasapi" .) >&2
echo "gomaasapi.sh: built $OUT/juju-gomaasapi with $(go version)" >&2
echo "export INGOT_GOMAASAPI_BIN=$OUT/juju-gomaasapi"
