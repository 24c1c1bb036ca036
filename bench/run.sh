#!/usr/bin/env bash
# Side-by-side benchmark: OpenStack Ironic standalone (the closest peer) and Ingot, on this machine,
# in the same run, loopback only. Ironic runs first and is stopped before Ingot starts, so they
# never share the CPU. See bench/README.md for what each figure means.
#
#   bench/run.sh                 # both; Ironic lists/reads at 1000 nodes, Ingot at 1000 and 10,000
#   FULL=1 bench/run.sh          # also grow Ironic to 10,000 nodes (~200 s more) for a same-size list
#   ONLY=ironic bench/run.sh     # one side only (ONLY=ingot too)
#
# Env: OUT (default bench/out/run-DATE; bench/out/latest points at it), INGOT_SHARED_DIR
#      (default ../shared), IRONIC_VENV (/tmp/peers/venv-ironic, installed when missing),
#      INGOT_BIN (skip the cargo build and use this binary), N_CREATE (1000), N_TOTAL (10000),
#      N_STATES (100, Ironic manage/provide/deploy sample), ALLOC_CLIENTS (32), N_ALLOC (2000),
#      ALLOC_CLIENT (rust: the compiled clients of crates/ingot/examples/alloc_load.rs, built here;
#      python: the benchmark's own threads, GIL-bound, as in the figures before 2026-12-07 16:30),
#      ALLOC_SECONDS (300: no new allocation starts after that; the figures stay valid),
#      READY_THREADS (4: clients making machines Ready), INGOT_PG (a postgres:// URL: Ingot runs
#      on that PostgreSQL database instead of SQLite; it must be empty or Ingot's own),
#      DEADLINE (1700 s: the whole Ingot client run; raise it with N_TOTAL=100000).
#   N_TOTAL=100000 N_ALLOC=5000 DEADLINE=5400 ONLY=ingot bench/run.sh   # the 100,000-machine run
# Writes into OUT: ironic-bench.txt, ironic-extra.{txt,json}, ingot.{txt,json},
#      comparison.{md,json}, and the servers' logs. Exit status: non-zero if a step failed or a
#      target was missed.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$REPO/bench
SHARED=$(cd "${INGOT_SHARED_DIR:-$REPO/../shared}" && pwd)
PEERS=$SHARED/peers
ONLY=${ONLY:-both}
FULL=${FULL:-0}
N_CREATE=${N_CREATE:-1000}
N_TOTAL=${N_TOTAL:-10000}
N_STATES=${N_STATES:-100}
ALLOC_CLIENTS=${ALLOC_CLIENTS:-32}
N_ALLOC=${N_ALLOC:-2000}
ALLOC_SECONDS=${ALLOC_SECONDS:-300}
READY_THREADS=${READY_THREADS:-4}
DEADLINE=${DEADLINE:-1700}
INGOT_PG=${INGOT_PG:-}
IRONIC_VENV=${IRONIC_VENV:-/tmp/peers/venv-ironic}
OUT=${OUT:-$BENCH/out/run-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
case "$OUT" in "$BENCH/out/"*) ln -sfn "$OUT" "$BENCH/out/latest" ;; esac
PY=python3

T0=$SECONDS
section() { printf '\n==== %s  [%ds] ====\n' "$*" $((SECONDS - T0)); }
die() { printf 'bench/run.sh: ERROR: %s\n' "$*" >&2; exit 1; }
case "$ONLY" in both|ironic|ingot) ;; *) die "ONLY must be both, ironic or ingot";; esac
command -v curl >/dev/null || die "curl is needed (apt-get install curl)"
[ -f "$PEERS/ironic-standalone.sh" ] || [ "$ONLY" = ingot ] || die "no $PEERS/ironic-standalone.sh"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {  # $1: preferred port
  local p=$1
  for _ in $(seq 1 50); do port_free "$p" && { echo "$p"; return; }; p=$((20000 + RANDOM % 40000)); done
  die "no free port"
}
# Stop a process by its PID only: TERM, wait up to 20 s, then KILL.
stop_pid() {
  local pid=$1 name=$2
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || { echo "stopped $name (PID $pid)"; return 0; }; sleep 0.2; done
  echo "$name (PID $pid) did not stop on TERM: KILL"; kill -9 "$pid" 2>/dev/null || true
}
IRONIC_PID=; INGOT_PID=
cleanup() { stop_pid "$INGOT_PID" ingot; stop_pid "$IRONIC_PID" ironic; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
rc=0

echo "results in $OUT"
{ echo "date: $(date -Is)"; echo "host: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB";
  echo "kernel: $(uname -r)"; echo "git: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo none)"; } > "$OUT/env.txt"

# ---------------------------------------------------------------------------------------------
if [ "$ONLY" != ingot ]; then
  section "Ironic standalone (venv $IRONIC_VENV)"
  IRONIC_WORK=$OUT/ironic
  IRONIC_PORT=$(free_port 6385)
  # The shared script installs the venv when missing (~100 packages from PyPI), writes its config,
  # wipes the DB (FRESH=1) and starts the all-in-one process in the background (BG=1).
  WORK=$IRONIC_WORK VENV=$IRONIC_VENV PORT=$IRONIC_PORT BG=1 FRESH=1 \
    timeout 1200 bash "$PEERS/ironic-standalone.sh"
  IRONIC_PID=$(cat "$IRONIC_WORK/ironic.pid")
  IRONIC=http://127.0.0.1:$IRONIC_PORT
  code=000
  for _ in $(seq 1 150); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-OpenStack-Ironic-API-Version: latest' "$IRONIC/v1/nodes") || true
    [ "$code" = 200 ] && break
    kill -0 "$IRONIC_PID" 2>/dev/null || break
    sleep 0.2
  done
  [ "$code" = 200 ] || { tail -n 30 "$IRONIC_WORK/ironic.log" >&2; die "Ironic did not answer GET /v1/nodes (HTTP $code)"; }
  "$IRONIC_VENV/bin/pip" show ironic 2>/dev/null | awk '/^Version/{print "ironic " $2}' | tee -a "$OUT/env.txt"

  section "Ironic: ironic-bench.py (create $N_CREATE, list, $N_STATES manage/provide/deploy/undeploy)"
  timeout 1200 "$PY" "$PEERS/ironic-bench.py" "$IRONIC" "$N_CREATE" "$N_STATES" | tee "$OUT/ironic-bench.txt"

  GROW=0; [ "$FULL" = 1 ] && GROW=$N_TOTAL
  section "Ironic: full list and single-node read p99 (grow to ${GROW:-0})"
  timeout 1500 "$PY" "$BENCH/ironic-extra.py" --base "$IRONIC" --grow-to "$GROW" --deadline 1400 \
    --json "$OUT/ironic-extra.json" | tee "$OUT/ironic-extra.txt"
  stop_pid "$IRONIC_PID" ironic; IRONIC_PID=
fi

# ---------------------------------------------------------------------------------------------
if [ "$ONLY" != ironic ]; then
  if [ -z "${INGOT_BIN:-}" ]; then
    section "cargo build --release -p ingot"
    (cd "$REPO" && timeout 2400 cargo build --release -p ingot)
    INGOT_BIN=$REPO/target/release/ingot
  fi
  [ -x "$INGOT_BIN" ] || die "no ingot binary at $INGOT_BIN"
  # Phase (e)'s 32 allocation clients: compiled (crates/ingot/examples/alloc_load.rs) unless
  # ALLOC_CLIENT=python (the GIL-bound threads of the earlier figures) or a path is given.
  ALLOC_ARGS=()
  case "${ALLOC_CLIENT:=rust}" in
    python) ;;
    rust)
      section "cargo build --release -p ingot --example alloc_load"
      (cd "$REPO" && timeout 2400 cargo build --release -p ingot --example alloc_load)
      ALLOC_ARGS=(--alloc-client "${CARGO_TARGET_DIR:-$REPO/target}/release/examples/alloc_load") ;;
    *) [ -x "$ALLOC_CLIENT" ] || die "ALLOC_CLIENT=$ALLOC_CLIENT is not an executable"
       ALLOC_ARGS=(--alloc-client "$ALLOC_CLIENT") ;;
  esac

  section "Ingot: fresh data dir, admin, API key, serve"
  unset INGOT_DATABASE INGOT_DATA_DIR INGOT_LISTEN  # the bench uses SQLite in its own data dir
  DATA=$OUT/ingot/data
  rm -rf "$DATA"; mkdir -p "$DATA"
  DBARGS=()
  if [ -n "$INGOT_PG" ]; then
    DBARGS=(--database "$INGOT_PG")
    echo "ingot database: PostgreSQL ($INGOT_PG)" | tee -a "$OUT/env.txt"
  fi
  timeout 60 "$INGOT_BIN" createadmin --data-dir "$DATA" "${DBARGS[@]}" --username admin --password pw --email a@b.c \
    > "$OUT/ingot/createadmin.log" 2>&1 || { cat "$OUT/ingot/createadmin.log" >&2; die "ingot createadmin failed"; }
  keyre='^[^:[:space:]]+:[^:[:space:]]+:[^:[:space:]]+$'
  KEY=$(timeout 60 "$INGOT_BIN" apikey --data-dir "$DATA" "${DBARGS[@]}" --username admin 2>>"$OUT/ingot/apikey.log" | grep -E "$keyre" | tail -n 1 || true)
  [ -n "$KEY" ] || KEY=$(timeout 60 "$INGOT_BIN" apikey --data-dir "$DATA" "${DBARGS[@]}" --username admin --generate 2>>"$OUT/ingot/apikey.log" | grep -E "$keyre" | tail -n 1 || true)
  [ -n "$KEY" ] || { cat "$OUT/ingot/apikey.log" >&2; die "ingot apikey printed no consumer_key:token_key:token_secret"; }
  INGOT_PORT=$(free_port 5240)
  RUST_LOG=${RUST_LOG:-warn} "$INGOT_BIN" serve --data-dir "$DATA" "${DBARGS[@]}" --listen "127.0.0.1:$INGOT_PORT" \
    > "$OUT/ingot/serve.log" 2>&1 &
  INGOT_PID=$!
  INGOT=http://127.0.0.1:$INGOT_PORT/MAAS
  code=000
  for _ in $(seq 1 300); do
    kill -0 "$INGOT_PID" 2>/dev/null || { tail -n 30 "$OUT/ingot/serve.log" >&2; die "ingot serve exited"; }
    code=$(curl -s -o /dev/null -w '%{http_code}' "$INGOT/api/2.0/version/") || true
    [ "$code" = 200 ] && break
    sleep 0.1
  done
  [ "$code" = 200 ] || { tail -n 30 "$OUT/ingot/serve.log" >&2; die "ingot did not answer GET /MAAS/api/2.0/version/ (HTTP $code)"; }
  echo "ingot PID $INGOT_PID on $INGOT ($("$INGOT_BIN" --version 2>/dev/null || echo 'version unknown'))" | tee -a "$OUT/env.txt"

  section "Ingot: bench/ingot-bench.py"
  set +e
  timeout $((DEADLINE + 100)) "$PY" "$BENCH/ingot-bench.py" --url "$INGOT" --apikey "$KEY" --n-create "$N_CREATE" \
    --n-total "$N_TOTAL" --alloc-clients "$ALLOC_CLIENTS" --n-alloc "$N_ALLOC" \
    --alloc-seconds "$ALLOC_SECONDS" --deadline "$DEADLINE" --ready-threads "$READY_THREADS" \
    --server-pid "$INGOT_PID" "${ALLOC_ARGS[@]}" \
    --json "$OUT/ingot.json" 2>&1 | tee "$OUT/ingot.txt"
  brc=${PIPESTATUS[0]}
  set -e
  [ "$brc" = 0 ] || { echo "ingot-bench.py exited $brc"; rc=1; }
  stop_pid "$INGOT_PID" ingot; INGOT_PID=
fi

# ---------------------------------------------------------------------------------------------
section "Side by side (Ingot advantage = how many times better Ingot is)"
"$PY" "$BENCH/compare.py" "$OUT" || rc=1
echo
echo "results: $OUT (comparison.md, comparison.json)"
exit $rc
