#!/usr/bin/env bash
# Run Ingot's coverage-guided fuzz targets (libFuzzer, fuzz/fuzz_targets/*.rs) on stable Rust.
#
#   scripts/fuzz.sh                 # every target for ${FUZZ_SECONDS:-20} s each
#   scripts/fuzz.sh dhcp_packet 300 # one target, 5 minutes
#
# The targets are built with sanitizer-coverage instrumentation (stable -C flags; cargo-fuzz's
# default AddressSanitizer needs nightly, and the code under test has no `unsafe`), debug
# assertions and overflow checks on. Corpora live in target/fuzz-corpus/<target> (kept between
# runs); a crash writes its input to target/fuzz-artifacts/<target>/ and fails this script.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO/fuzz"
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}/fuzz
SECS=${2:-${FUZZ_SECONDS:-20}}
ALL=(dhcp_packet dhcp_lease_log tftp_packet wire_params dns_query)
if [ $# -ge 1 ]; then TARGETS=("$1"); else TARGETS=("${ALL[@]}"); fi

export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
# --target keeps the instrumentation off build scripts and proc macros (host tools).
HOST=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --quiet --target "$HOST" --target-dir "$TARGET_DIR" --bins

for t in "${TARGETS[@]}"; do
  corpus=$REPO/target/fuzz-corpus/$t
  art=$REPO/target/fuzz-artifacts/$t
  mkdir -p "$corpus" "$art"
  seeds=$REPO/fuzz/seeds/$t
  echo "fuzz: $t for ${SECS}s"
  "$TARGET_DIR/$HOST/release/$t" -max_total_time="$SECS" -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$art/" "$corpus" $( [ -d "$seeds" ] && echo "$seeds" ) 2>&1 \
    | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|==|SUMMARY|panicked|thread)' || true
  if ls "$art" | grep -q .; then
    echo "fuzz: $t found a crash: $(ls "$art")" >&2
    exit 1
  fi
done
