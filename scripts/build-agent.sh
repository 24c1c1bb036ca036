#!/usr/bin/env bash
# Build ingot-agent the way machines run it: statically linked (glibc's static libc, so it needs
# no C library on the machine and runs on any Linux of its architecture), no debug information,
# stripped (cargo profile `agent` in Cargo.toml). This is the program the region serves as
# /MAAS/maas-run-scripts and the one `ingot images build` should embed.
#
#   scripts/build-agent.sh               # build; prints the binary's path on stdout
#   scripts/build-agent.sh --out DIR     # also install it as DIR/ingot-agent (e.g. next to ingot)
#
# The target triple is passed explicitly so that crt-static applies to the agent only, not to
# build scripts and proc-macros. Env: CARGO (cargo to run), CARGO_TARGET_DIR.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { printf 'build-agent.sh: %s\n' "$*" >&2; exit 1; }
OUT=
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || die "--out needs a directory"; OUT=$2; shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done
TRIPLE=$("${RUSTC:-rustc}" -vV | sed -n 's/^host: //p')
case "$TRIPLE" in
  *-linux-gnu*) ;;
  *) die "host $TRIPLE: only *-linux-gnu hosts are handled (glibc crt-static)" ;;
esac
VAR=CARGO_TARGET_$(printf '%s' "$TRIPLE" | tr 'a-z.-' 'A-Z__')_RUSTFLAGS
cd "$REPO"
# RUSTFLAGS would take precedence over the target's flags: left out.
env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS "$VAR=-C target-feature=+crt-static" \
  "${CARGO:-cargo}" build -p ingot-agent --profile agent --target "$TRIPLE" >&2
BIN=${CARGO_TARGET_DIR:-$REPO/target}/$TRIPLE/agent/ingot-agent
[ -x "$BIN" ] || die "no $BIN after the build"
if command -v readelf >/dev/null 2>&1 && readelf -lW "$BIN" | grep -q 'INTERP'; then
  die "$BIN has a program interpreter: it is not statically linked"
fi
if [ -n "$OUT" ]; then
  mkdir -p "$OUT"
  install -m 0755 "$BIN" "$OUT/ingot-agent"
  BIN=$(cd "$OUT" && pwd)/ingot-agent
fi
printf '%s\n' "$BIN"
