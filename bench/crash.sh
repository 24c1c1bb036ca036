#!/usr/bin/env bash
# bench/crash.sh - the fault-injection storm (crates/ingot/tests/crash.rs), longer than CI's run:
# OPS operations by WORKERS concurrent clients on up to MACHINES machines while `ingot serve` is
# killed with SIGKILL KILLS times and started again, on SQLite and on PostgreSQL; the invariants
# are checked after every restart. Prints each database's summary (kills performed, operations
# answered / refused / without answer, violations) and writes them to bench/out/crash.txt.
#
#   scripts/test.sh --with-env bash bench/crash.sh          # PostgreSQL provided by test.sh
#   OPS=20000 KILLS=40 scripts/test.sh --with-env bash bench/crash.sh
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
export INGOT_CRASH_OPS=${OPS:-10000} INGOT_CRASH_KILLS=${KILLS:-20}
export INGOT_CRASH_WORKERS=${WORKERS:-32} INGOT_CRASH_MACHINES=${MACHINES:-120}
mkdir -p bench/out
out=bench/out/crash.txt
{
  echo "# bench/crash.sh $(date -u +%FT%TZ) at $(git rev-parse --short HEAD): ops=$INGOT_CRASH_OPS kills=$INGOT_CRASH_KILLS workers=$INGOT_CRASH_WORKERS machines=$INGOT_CRASH_MACHINES"
  cargo test -q -p ingot --test crash -- --nocapture --test-threads 1 2>&1 \
    | grep -E '^(crash storm|  |test |thread|[0-9]+ violation)' || true
} | tee "$out"
grep -q "^test result: ok" "$out" || {
  echo "bench/crash.sh: the storm found violations or failed (above)" >&2
  exit 1
}
