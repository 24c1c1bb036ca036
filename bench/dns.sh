#!/usr/bin/env bash
# bench/dns.sh - the rack's DNS server (crates/rack/src/dns.rs, in `ingot serve`) against BIND 9
# serving the same zones of 10,000 machines, in the same invocation, with dnsperf (Debian).
#
#   bench/dns.sh                 # root: makes (and removes) a network namespace; ~6-10 min
#
# What it does (all in one namespace `idb<random>`, addresses on a veth in the
# managed subnet 10.90.0.0/16, so every client is trusted by Ingot and may recurse):
#   10.90.0.1  ingot serve (region + rack, DNS on :53), fresh SQLite DB in a temp dir
#   10.90.0.2  BIND 9 authoritative peer (recursion no), the zones dumped from Ingot by AXFR
#   10.90.0.3  BIND 9 upstream, authoritative for example.test (N_FWD names); Ingot's upstream_dns
#   10.90.0.4  BIND 9 forwarder (forward only to 10.90.0.3), the peer of Ingot's forwarding
# 1. N machines (10,000) are created through the API (commission=false: NEW) by THREADS
#    clients, each linked STATIC to an address from 10.90.1.1 on, in managed subnets with
#    reverse DNS on (the default rdns_mode): PREFIX=24 (default) makes 10.90.0.0/24 (the
#    servers) and one /24 per 250 machines, so the `maas` zone and 41 reverse zones
#    `C.90.10.in-addr.arpa`; PREFIX=16 makes a single 10.90.0.0/16 (`90.10.in-addr.arpa`).
# 2. Every zone Ingot serves is written as a zone file (from the region's GET /MAAS/rack/dns,
#    which is what the rack serves; AXFR from the rack is tried too, and recorded) and loaded
#    by the BIND peer; a sample of A and PTR answers is compared between the two (and with
#    what the API was told) before anything is measured.
# 3. dnsperf (-c CLIENTS -T DNSPERF_THREADS -q OUTSTANDING -l SECS, UDP) against each server: authoritative
#    (random A for the machine names, PTR_SHARE of PTR) and forwarded (random A among the
#    N_FWD example.test names, after one warm-up pass over all of them). Unthrottled first;
#    while loss >= 0.1 %, again with -Q at 90 % of the rate achieved. The server's CPU
#    (utime+stime of its process, /proc/PID/stat) over each run gives CPU per query.
#    BIND runs with -n 2 (2 worker threads); Ingot once with `serve`'s default (--workers 1:
#    one runtime thread for the API, the rack and DNS) and once with --workers 2.
# 4. Change to answer, CHANGES times each: Ingot: PUT machines/{id}/ hostname=... until the new
#    name answers (UDP queries every 10 ms); BIND: what MAAS does, both zone files written anew
#    with the serial + 1, `rndc reload` of both zones, until the new name answers.
# Everything runs on this machine's cores; dnsperf competes with the server it measures.
#
# Env (defaults): PREFIX=24 N=10000 N_FWD=10000 THREADS=8 SECS=15 CLIENTS=10 DNSPERF_THREADS=1
#   OUTSTANDING=100 (dnsperf -q, its default; with 500 both servers drop datagrams in bursts: the
#   sockets' default 208 KB receive buffers overflow, counted as UDP RcvbufErrors in results)
#   PTR_SHARE=0.25 CHANGES=20 WORKERS_LIST="1 2" INGOT_BIN (skip the cargo build)
#   PROFILE=0 (1: before each measured Ingot run, one run under `perf record -g` of the server,
#   not counted; the report by symbol in OUT/perf-ingot-w*-{auth,fwd}.txt)
#   OUT (default bench/out/dns-DATE): results.jsonl, summary.md, the servers' logs.
#   INGOT_LOG (default warn,ingot_rack::dns=info: the rack's line per load, with how long the
#   new zones took to build, goes to OUT/ingot.log)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$REPO/bench
N=${N:-10000}
PREFIX=${PREFIX:-24}
N_FWD=${N_FWD:-10000}
THREADS=${THREADS:-8}
SECS=${SECS:-15}
CLIENTS=${CLIENTS:-10}
DNSPERF_THREADS=${DNSPERF_THREADS:-1}
OUTSTANDING=${OUTSTANDING:-100}
PTR_SHARE=${PTR_SHARE:-0.25}
CHANGES=${CHANGES:-20}
WORKERS_LIST=${WORKERS_LIST:-"1 2"}
PROFILE=${PROFILE:-0}
OUT=${OUT:-$BENCH/out/dns-$(date +%Y%m%d-%H%M%S)}
PY="python3 $BENCH/dns_bench.py"

die() { printf 'bench/dns.sh: ERROR: %s\n' "$*" >&2; exit 1; }
T0=$SECONDS
section() { printf '\n==== %s  [%ds] ====\n' "$*" $((SECONDS - T0)); }
[ "$(id -u)" = 0 ] || die "run as root (network namespaces)"
for c in dig named rndc dnsperf python3 ip; do command -v $c >/dev/null || die "$c is missing (Debian: bind9 bind9-dnsutils dnsperf; scripts/peers/dns.sh installs them)"; done

if [ -z "${INGOT_BIN:-}" ]; then
  (cd "$REPO" && cargo build --release -p ingot --bin ingot) || die "cargo build failed"
  INGOT_BIN=$REPO/target/release/ingot
fi
"$INGOT_BIN" serve --help | grep -q -- --dns-listen || die "$INGOT_BIN has no --dns-listen (an old build?)"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
case "$OUT" in "$BENCH/out/"*) ln -sfn "$OUT" "$BENCH/out/dns-latest" ;; esac
RES=$OUT/results.jsonl
: > "$RES"
WORK=$(mktemp -d /tmp/ingot-dns-bench.XXXXXX)
ID=$(printf '%05d' $((RANDOM % 100000)))
NS=idb$ID
INGOT=10.90.0.1 PEER=10.90.0.2 UPSTREAM=10.90.0.3 FORWARDER=10.90.0.4
PIDS=()       # every process this script started (by PID)
INGOT_PID=

stop_pid() {  # TERM, up to 10 s, then KILL; only the given PID
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
}
cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  # Anything left in our own namespace was started by this script.
  for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
  ip netns del "$NS" 2>/dev/null
  [ -d "$WORK" ] && cp -f "$WORK"/*.log "$OUT"/ 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

in_ns() { ip netns exec "$NS" "$@"; }
py() { in_ns $PY "$@" | tee -a "$RES"; }

section "namespace $NS, work dir $WORK, results $OUT"
ip netns add "$NS"
ip -n "$NS" link set lo up
# A veth pair inside the namespace (this kernel has no dummy interfaces); the addresses on d0.
ip -n "$NS" link add d0 type veth peer name d1
ip -n "$NS" link set d0 up
ip -n "$NS" link set d1 up
ip -n "$NS" addr add $INGOT/16 dev d0
for a in $PEER $UPSTREAM $FORWARDER; do ip -n "$NS" addr add $a/32 dev d0; done
{ echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"; echo "commit: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo none)";
  echo "host: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r)";
  echo "bind: $(named -v)"; echo "dnsperf: $(dnsperf -h 2>&1 | awk '/^Version/{print $2}')";
  echo "ingot: $INGOT_BIN (copied for the run; working tree: $(git -C "$REPO" status --short --untracked-files=no 2>/dev/null | wc -l) modified file(s))"; } | tee "$OUT/env.txt"
# A private copy: a rebuild in the tree during the run does not change the server restarted.
cp "$INGOT_BIN" "$WORK/ingot"
INGOT_BIN=$WORK/ingot

# ---------------------------------------------------------------------------------------------
section "Ingot: admin, API key, serve"
DB=sqlite://$WORK/ingot.sqlite
mkdir -p "$WORK/data"
"$INGOT_BIN" createadmin --database "$DB" --username admin --password pw --email a@example.com >/dev/null
KEY=$("$INGOT_BIN" apikey --database "$DB" --username admin | tail -1 | tr -d '[:space:]')
URL=http://$INGOT:5240/MAAS

start_ingot() {  # $1: --workers
  # Started directly (not through a shell function) so that $! is the server: `ip netns exec`
  # and `env` exec into it.
  ip netns exec "$NS" env INGOT_LOG="${INGOT_LOG:-warn,ingot_rack::dns=info}" "$INGOT_BIN" serve --database "$DB" --data-dir "$WORK/data" \
      --listen 0.0.0.0:5240 --rack-address $INGOT --rack-interface d0 \
      --dns-listen $INGOT:53 --workers "$1" >> "$WORK/ingot.log" 2>&1 &
  INGOT_PID=$!
  PIDS+=("$INGOT_PID")
  for i in $(seq 1 300); do
    in_ns curl -fsS -o /dev/null "$URL/api/2.0/version/" 2>/dev/null && break
    kill -0 "$INGOT_PID" 2>/dev/null || die "ingot serve exited: $(tail -20 "$WORK/ingot.log")"
    [ "$i" = 300 ] && die "the region did not start in 30 s"
    sleep 0.1
  done
  echo "ingot serve --workers $1: PID $INGOT_PID"
}
stop_ingot() {
  stop_pid "$INGOT_PID"
  local keep=()
  for p in "${PIDS[@]}"; do [ "$p" != "$INGOT_PID" ] && keep+=("$p"); done
  PIDS=("${keep[@]}")
  INGOT_PID=
}
start_ingot 1

# ---------------------------------------------------------------------------------------------
section "BIND upstream for example.test ($N_FWD names) at $UPSTREAM"
named_conf() {  # $1 tag, $2 address, $3 extra options, $4 zones; writes $WORK/$1/named.conf
  local d=$WORK/$1
  mkdir -p "$d"
  cat > "$d/named.conf" <<EOF
options {
  directory "$d"; pid-file "$d/named.pid"; session-keyfile "$d/session.key";
  managed-keys-directory "$d"; listen-on port 53 { $2; }; listen-on-v6 { none; };
  dnssec-validation no; notify no; allow-query { any; }; querylog no;
  $3
};
$4
EOF
}
start_named() {  # $1 tag, $2 threads
  ip netns exec "$NS" named -g -4 -n "$2" -c "$WORK/$1/named.conf" > "$WORK/$1.log" 2>&1 &
  PIDS+=("$!")
  eval "${1}_PID=$!"
}
mkdir -p "$WORK/upstream"
python3 - "$WORK/upstream/example.test.zone" "$N_FWD" <<'EOF'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("$TTL 86400\n@ IN SOA ns.example.test. root.example.test. 1 600 60 86400 86400\n@ IN NS ns.example.test.\nns IN A 192.0.2.53\n")
    for i in range(n):
        f.write(f"h{i:05d} IN A 198.18.{i // 250}.{1 + i % 250}\n")
EOF
named_conf upstream $UPSTREAM "recursion no;" 'zone "example.test" { type primary; file "example.test.zone"; };'
start_named upstream 1
in_ns $PY wait --server $UPSTREAM --want 198.18.0.1 h00000.example.test >/dev/null

# ---------------------------------------------------------------------------------------------
section "populate: $N machines with static addresses, $THREADS API clients"
in_ns $PY populate --url "$URL" --key "$KEY" --n "$N" --threads "$THREADS" --prefix "$PREFIX" \
   --out "$WORK/machines.json" --zones-out "$WORK/reverse-zones.txt" | tee -a "$RES"
in_ns $PY set-config --url "$URL" --key "$KEY" upstream_dns $UPSTREAM >/dev/null
LAST=$(python3 -c "import json,sys; m=json.load(open(sys.argv[1]))[-1]; print(m['hostname'], m['ip'])" "$WORK/machines.json")
read -r LAST_HOST LAST_IP <<< "$LAST"
py wait --server $INGOT --want "$LAST_IP" --timeout 120 "$LAST_HOST.maas"
py wait --server $INGOT --want 198.18.0.1 h00000.example.test

# ---------------------------------------------------------------------------------------------
section "zones from Ingot to the BIND peer at $PEER"
# The zones as the rack serves them come from the region's rack endpoint (GET /MAAS/rack/dns,
# with the rack's bearer secret, timed: it is what a rack fetches after every change). Each
# zone's AXFR from the rack is also tried and its record count checked against it (before
# 2d70b31 the AXFR of the 10,000-name zone stopped after its first 64 KB message).
mkdir -p "$WORK/peer" "$OUT/zones"
py zonefiles --url "$URL" --secret-file "$WORK/data/rack.secret" --server $INGOT --dir "$WORK/peer" \
   --zones-out "$WORK/zones.txt"
cp "$WORK"/peer/*.zone "$OUT/zones/"
PEER_ZONES=
for z in $(cat "$WORK/zones.txt"); do
  PEER_ZONES="$PEER_ZONES
zone \"$z\" { type primary; file \"$z.zone\"; };"
done
RNDC_SECRET=$(head -c 32 /dev/urandom | base64)
cat > "$WORK/peer/rndc.conf" <<EOF
key "rndc-key" { algorithm hmac-sha256; secret "$RNDC_SECRET"; };
options { default-key "rndc-key"; default-server $PEER; default-port 953; };
EOF
named_conf peer $PEER "recursion no; check-integrity no;" "key \"rndc-key\" { algorithm hmac-sha256; secret \"$RNDC_SECRET\"; };
controls { inet $PEER port 953 allow { any; } keys { \"rndc-key\"; }; };
$PEER_ZONES"
start_named peer 2
py wait --server $PEER --want "$LAST_IP" "$LAST_HOST.maas"

section "BIND forwarder at $FORWARDER (forward only to $UPSTREAM)"
named_conf forwarder $FORWARDER "recursion yes; allow-recursion { any; }; forward only; forwarders { $UPSTREAM; };" ""
start_named forwarder 2
py wait --server $FORWARDER --want 198.18.0.1 h00000.example.test

section "the same answers from Ingot and the BIND peer (A and PTR sample)"
py compare --machines "$WORK/machines.json" --a $INGOT --b $PEER --sample 300 || die "Ingot and BIND answer differently"
in_ns dig @$INGOT +norec "$LAST_HOST.maas" A > "$OUT/dig-ingot.txt"
in_ns dig @$PEER +norec "$LAST_HOST.maas" A > "$OUT/dig-bind.txt"
py queries --machines "$WORK/machines.json" --out-auth "$WORK/auth.q" --out-fwd "$WORK/fwd.q" \
   --out-warm "$WORK/warm.q" --n-fwd "$N_FWD" --ptr-share "$PTR_SHARE"

PERF="--secs $SECS --clients $CLIENTS --threads $DNSPERF_THREADS --outstanding $OUTSTANDING"
# ---------------------------------------------------------------------------------------------
section "dnsperf: BIND (named -n 2)"
py idle --label bind-peer --pid "$peer_PID"
py perf --label "bind auth" --server $PEER --pid "$peer_PID" --file "$WORK/auth.q" $PERF
py perf --label "bind fwd" --server $FORWARDER --pid "$forwarder_PID" --upstream-pid "$upstream_PID" --file "$WORK/fwd.q" --warm "$WORK/warm.q" $PERF

for w in $WORKERS_LIST; do
  if [ "$w" != 1 ]; then
    stop_ingot
    start_ingot "$w"
    py wait --server $INGOT --want "$LAST_IP" --timeout 60 "$LAST_HOST.maas"
    py wait --server $INGOT --want 198.18.0.1 h00000.example.test
  fi
  section "dnsperf: Ingot (serve --workers $w)"
  py idle --label "ingot-w$w" --pid "$INGOT_PID"
  PROF_AUTH= PROF_FWD=
  if [ "$PROFILE" = 1 ]; then PROF_AUTH="--profile $OUT/perf-ingot-w$w-auth" PROF_FWD="--profile $OUT/perf-ingot-w$w-fwd"; fi
  py perf --label "ingot w$w auth" --server $INGOT --pid "$INGOT_PID" --file "$WORK/auth.q" $PERF $PROF_AUTH
  py perf --label "ingot w$w fwd" --server $INGOT --pid "$INGOT_PID" --upstream-pid "$upstream_PID" $PROF_FWD --file "$WORK/fwd.q" --warm "$WORK/warm.q" $PERF
done

# ---------------------------------------------------------------------------------------------
section "change to answer: BIND (zone files written, serial + 1, rndc reload), $CHANGES times"
cp "$WORK/machines.json" "$WORK/machines-bind.json"
py change-bind --machines "$WORK/machines-bind.json" --server $PEER --rndc-conf "$WORK/peer/rndc.conf" \
   --dir "$WORK/peer" --prefix "$PREFIX" --times "$CHANGES"

if [ "$(echo $WORKERS_LIST | awk '{print $NF}')" != 1 ]; then
  stop_ingot
  start_ingot 1
  py wait --server $INGOT --want "$LAST_IP" --timeout 60 "$LAST_HOST.maas"
fi
section "change to answer: Ingot (PUT machines/{id}/ hostname=..., serve --workers 1), $CHANGES times"
py change-ingot --url "$URL" --key "$KEY" --machines "$WORK/machines.json" --server $INGOT --times "$CHANGES"

# ---------------------------------------------------------------------------------------------
section "summary"
grep -q panicked "$WORK/ingot.log" && echo "WARNING: ingot.log has a panic"
python3 - "$RES" "$OUT/summary.md" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
perf = {r["label"]: r for r in rows if r["what"] == "perf"}
idle = {r["label"]: r for r in rows if r["what"] == "idle"}
ch = {r["label"]: r for r in rows if r["what"] == "change"}
pop = next((r for r in rows if r["what"] == "populate"), None)
out = []
if pop:
    out.append(f"populate: {pop['machines']} machines + static links in {pop['seconds']} s with {pop['threads']} clients ({pop['machines_per_s']}/s)\n")
out.append("| run | server | threads | qps (<0.1% loss) | loss % | CPU us/query | server cores busy | dnsperf cores busy | latency ms | NOERROR % | RSS MB | upstream cores busy | qps ratio Ingot/BIND | CPU ratio Ingot/BIND |")
out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for kind in ("auth", "fwd"):
    b = perf.get(f"bind {kind}")
    for label, r in perf.items():
        if not label.endswith(kind):
            continue
        qr = cr = ""
        if b and r is not b:
            qr = f"{r['qps'] / b['qps']:.2f}" if b["qps"] else ""
            cr = f"{r['cpu_us_per_query'] / b['cpu_us_per_query']:.2f}" if b["cpu_us_per_query"] else ""
        out.append(f"| {kind} | {label.rsplit(' ', 1)[0]} | {r['threads']} | {r['qps']:.0f}{'' if r['met_loss'] else ' (loss target not met)'} | {r['loss_pct']} | {r['cpu_us_per_query']} | {r['server_cpu_share']} | {r['dnsperf_cpu_share']} | {r['latency_ms']} | {r['noerror_pct']} | {r['rss_mb']} | {r.get('upstream_cpu_share') if r.get('upstream_cpu_share') is not None else ''} | {qr} | {cr} |")
out.append("")
for label, r in idle.items():
    out.append(f"idle {label}: {r['cpu_ms_per_s']} ms CPU per s, {r['threads']} threads, RSS {r['rss_mb']} MB")
for label, r in ch.items():
    key = "from_response" if label == "ingot" else "from_write"
    s = r[key]
    out.append(f"change -> answer, {label} ({key}): median {s['median_ms']} ms, max {s['max_ms']} ms, min {s['min_ms']} ms over {s['n']}; failures {len(r['failures'])}")
text = "\n".join(out)
print(text)
open(sys.argv[2], "w").write(text + "\n")
EOF
echo "results: $OUT"
