#!/usr/bin/env bash
# IPMI power-status sweep: Ingot's native driver vs ipmitool processes, against N pyghmi fake
# BMCs (one process, udp 127.0.0.1:BASE..BASE+N-1, cipher suite 3).
#
#   bench/power-sweep.sh                 # N=1000 BMCs, concurrency 64
#   N=200 CONC=32 SEQ_COUNT=100 BASE=31000 bench/power-sweep.sh
#
# Runs: the Rust sweep (release build of crates/power/examples/ipmi_sweep.rs), then
# `ipmitool -I lanplus -C 3 ... chassis power status` as a sequential loop over SEQ_COUNT
# BMCs (default all N; the per-BMC figure is extrapolated when smaller) and with xargs -P CONC
# over all N. Prints the times and ratios; stops the pyghmi process by its PID.
# Needs the peers: scripts/peers/ipmi.sh (ipmitool + a venv with pyghmi).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${INGOT_SHARED_DIR:-$REPO/../shared}
N=${N:-1000}
CONC=${CONC:-64}
BASE=${BASE:-31000}
SEQ_COUNT=${SEQ_COUNT:-$N}
USER_NAME=admin
USER_PASS=password
OUT=${OUT:-$(mktemp -d /tmp/power-sweep.XXXXXX)}

eval "$("$REPO/scripts/peers/ipmi.sh")"
PY=${INGOT_PYGHMI_PYTHON}

echo "building the sweep (release)..." >&2
(cd "$REPO" && cargo build -q --release -p ingot-power --example ipmi_sweep)
SWEEP=$REPO/target/release/examples/ipmi_sweep

"$PY" "$SHARED/peers/ipmi-pyghmi-bmc.py" --port "$BASE" --count "$N" --state-file "$OUT/state.json" > "$OUT/pyghmi.log" 2>&1 &
BMC_PID=$!
trap 'kill "$BMC_PID" 2>/dev/null || true; wait "$BMC_PID" 2>/dev/null || true' EXIT
# Wait until the last BMC answers.
LAST=$((BASE + N - 1))
for _ in $(seq 1 120); do
  if ipmitool -I lanplus -C 3 -H 127.0.0.1 -p "$LAST" -U "$USER_NAME" -P "$USER_PASS" -N 1 -R 1 chassis power status >/dev/null 2>&1; then break; fi
  kill -0 "$BMC_PID" || { cat "$OUT/pyghmi.log"; exit 1; }
  sleep 0.5
done
ps -o rss= -p "$BMC_PID" | awk '{printf "pyghmi process RSS with %s BMCs: %.1f MB\n", '"$N"', $1/1024}'
seq "$BASE" "$LAST" | sed 's/^/127.0.0.1:/' > "$OUT/addrs"

now() { date +%s.%N; }

echo "== ingot native driver: $N BMCs, concurrency $CONC"
"$SWEEP" --file "$OUT/addrs" --user "$USER_NAME" --pass "$USER_PASS" --cipher 3 --concurrency "$CONC" | tee "$OUT/rust.txt"
RUST_S=$(sed -n 's/.*total_seconds=\([0-9.]*\).*/\1/p' "$OUT/rust.txt")

one() { ipmitool -I lanplus -C 3 -H 127.0.0.1 -p "$1" -U "$USER_NAME" -P "$USER_PASS" chassis power status >/dev/null 2>&1 && echo ok || echo fail; }
export -f one; export USER_NAME USER_PASS

echo "== ipmitool sequential loop: $SEQ_COUNT BMCs"
t0=$(now)
SEQ_OK=0
for p in $(seq "$BASE" $((BASE + SEQ_COUNT - 1))); do
  [ "$(one "$p")" = ok ] && SEQ_OK=$((SEQ_OK + 1))
done
SEQ_S=$(echo "$(now) - $t0" | bc -l)
SEQ_FULL=$(echo "$SEQ_S * $N / $SEQ_COUNT" | bc -l)
printf 'ok=%s/%s total_seconds=%.3f (for %s BMCs: %.1f s)\n' "$SEQ_OK" "$SEQ_COUNT" "$SEQ_S" "$N" "$SEQ_FULL"

echo "== ipmitool xargs -P $CONC: $N BMCs"
t0=$(now)
PAR_OK=$(seq "$BASE" "$LAST" | xargs -P "$CONC" -I{} bash -c 'one {}' | grep -c '^ok$' || true)
PAR_S=$(echo "$(now) - $t0" | bc -l)
printf 'ok=%s/%s total_seconds=%.3f\n' "$PAR_OK" "$N" "$PAR_S"

echo "== summary ($N BMCs, pyghmi fake BMCs, cipher suite 3)"
printf 'ingot native (concurrency %s):   %8.2f s\n' "$CONC" "$RUST_S"
printf 'ipmitool sequential (%s BMCs):  %8.2f s  -> ratio %.1fx\n' "$N" "$SEQ_FULL" "$(echo "$SEQ_FULL / $RUST_S" | bc -l)"
printf 'ipmitool xargs -P %s:           %8.2f s  -> ratio %.1fx\n' "$CONC" "$PAR_S" "$(echo "$PAR_S / $RUST_S" | bc -l)"
echo "outputs in $OUT"
