#!/usr/bin/env bash
# Power monitoring at fleet scale (issue 17's "power-poll" at 100,000): N webhook-powered
# machines, one `ingot serve` querying them every INTERVAL seconds; see bench/power_poll.py.
#
#   bench/power-poll.sh                         # 100,000 machines, the default 300 s interval
#   N=10000 INTERVAL=60 bench/power-poll.sh
#
# Env: INGOT_BIN (skip the build and use this binary), N (100000), INTERVAL (300), MARGIN (30 s
#      measured beyond one interval), THREADS (8 creating clients), OUT (a new directory in
#      /tmp). Prints the figures as JSON and keeps them in OUT/power-poll.json.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-100000}
INTERVAL=${INTERVAL:-300}
MARGIN=${MARGIN:-30}
THREADS=${THREADS:-8}
OUT=${OUT:-$(mktemp -d /tmp/power-poll.XXXXXX)}
mkdir -p "$OUT"
if [ -z "${INGOT_BIN:-}" ]; then
  (cd "$REPO" && cargo build -q --release -p ingot --bin ingot)
  INGOT_BIN=$REPO/target/release/ingot
fi
DATA=$OUT/data
rm -rf "$DATA"; mkdir -p "$DATA"
"$INGOT_BIN" createadmin --data-dir "$DATA" --username admin --password pw --email a@b.c > "$OUT/createadmin.log" 2>&1
KEY=$("$INGOT_BIN" apikey --data-dir "$DATA" --username admin 2>/dev/null | grep -E '^[^:]+:[^:]+:[^:]+$' | tail -n 1)
[ -n "$KEY" ] || { echo "no API key" >&2; exit 1; }
python3 "$REPO/bench/power_poll.py" --ingot "$INGOT_BIN" --data-dir "$DATA" --key "$KEY" \
  --n "$N" --interval "$INTERVAL" --margin "$MARGIN" --threads "$THREADS" | tee "$OUT/power-poll.json"
echo "results in $OUT" >&2
