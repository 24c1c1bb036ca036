#!/usr/bin/env bash
# bench/dhcp.sh - Ingot's DHCPv4 server (crates/dhcp, example `dhcpd`) against Kea (memfile,
# leases persisted) and dnsmasq (leases persisted), in the same invocation, with perfdhcp acting
# as a relay from netns "cli" to netns "srv" (see shared/bench/README.md and dhcp-peers.sh).
#
# Usage:  bench/dhcp.sh                       (root: creates/removes the netns, installs peers)
# Env (defaults):
#   RATES="1000 2000 4000 8000 10000 12000"  RATES_dnsmasq="100 150 250 500"
#   REPS=3  PERIOD=20  CLIENTS=10000  PIN=1          (passed through to dhcp-peers.sh)
#   SHARED_BENCH=<repo>/../shared/bench   where dhcp-peers.sh / netns.sh live
#   CSV=/tmp/bench/dhcp-ingot-<ts>.csv     per-run results; the summary below is derived from it
#   KEEP_NETNS=0                            1 = leave the namespaces up afterwards
# Ingot runs with its lease log on disk (group-committed fdatasync: an ACK leaves only after its
# lease record is durable), fresh (log removed) before every run, like Kea's and dnsmasq's.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED_BENCH=${SHARED_BENCH:-$(cd "$ROOT/../shared/bench" 2>/dev/null && pwd || echo /work/shared/bench)}
TS=$(date +%Y%m%d-%H%M%S)
export RATES=${RATES:-"1000 2000 4000 8000 10000 12000"}
export RATES_dnsmasq=${RATES_dnsmasq:-"100 150 250 500"}
export REPS=${REPS:-3} PERIOD=${PERIOD:-20} CLIENTS=${CLIENTS:-10000}
export CSV=${CSV:-/tmp/bench/dhcp-ingot-$TS.csv}
mkdir -p "$(dirname "$CSV")"

[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces)" >&2; exit 1; }

# Peers and client, from Debian, as the shared scripts expect them.
missing=""
command -v kea-dhcp4 >/dev/null || missing="$missing kea-dhcp4-server"
command -v perfdhcp  >/dev/null || missing="$missing kea-admin"
command -v dnsmasq   >/dev/null || missing="$missing dnsmasq-base"
if [ -n "$missing" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null || exit 1
fi
# Debian's kea packages start a system kea-dhcp4 service; it must not hold port 67 anywhere.
systemctl stop kea-dhcp4-server 2>/dev/null || true

# Ingot, release build.
(cd "$ROOT" && cargo build --release -p ingot-dhcp --example dhcpd) || exit 1
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release/examples/dhcpd
LEASES=/tmp/bench/ingot-dhcp-leases.log

export SERVERS=${SERVERS:-"kea dnsmasq custom"}
export SERVER_NAME=ingot
export SERVER_RESET="rm -f $LEASES $LEASES.tmp"
export SERVER_CMD="env RUST_LOG=warn $BIN --server-ip 10.66.0.1 --iface veth-srv --subnet 10.66.0.0/16 --range 10.66.1.1-10.66.255.254 --lease-time 3600 --lease-file $LEASES"

# The namespaces are shared with the other benchmarks: wait while another one is using them,
# and only tear them down if nothing else is running inside.
ns_busy() { for ns in srv cli; do [ -n "$(ip netns pids "$ns" 2>/dev/null)" ] && return 0; done; return 1; }
for _ in $(seq "${WAIT_NETNS_S:-900}"); do ns_busy || break; sleep 1; done
ns_busy && { echo "netns srv/cli still busy (another benchmark?); giving up" >&2; exit 1; }
cleanup() {
    [ "${KEEP_NETNS:-0}" = 1 ] && return
    if ns_busy; then echo "netns in use by someone else; not removing it" >&2; else "$SHARED_BENCH/netns.sh" down; fi
}
trap cleanup EXIT

"$SHARED_BENCH/dhcp-peers.sh"

# CPU per DORA (server CPU-seconds / ACKs), median over reps, and the ratio to Kea at the same rate.
echo
echo "Server CPU per DORA (us, median over reps) and ratio to Kea at the same offered rate; csv: $CSV"
awk -F, 'NR > 1 && $16 > 0 {
        k = $1 "," $2; n[k]++; v[k, n[k]] = 1e6 * ($20 / 100) / $16; d[k, n[k]] = $17
        if (!(($2) in seen)) { seen[$2] = 1; rates[++nr] = $2 }
        if (!(($1) in sv)) { sv[$1] = 1; srv[++ns] = $1 }
    }
    function med(k, a,   i, j, t, m, x) {
        m = n[k]; for (i = 1; i <= m; i++) x[i] = a[k, i]
        for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
        return (m % 2) ? x[(m + 1) / 2] : (x[m / 2] + x[m / 2 + 1]) / 2
    }
    END {
        printf "%-8s %7s %12s %10s %14s\n", "server", "rate", "us/DORA", "drop%", "vs kea CPU"
        for (s = 1; s <= ns; s++) for (r = 1; r <= nr; r++) {
            k = srv[s] "," rates[r]; if (!(k in n)) continue
            c = med(k, v); kk = "kea," rates[r]
            ratio = (kk in n && med(kk, v) > 0) ? sprintf("%.2fx", c / med(kk, v)) : "-"
            printf "%-8s %7s %12.1f %10.3f %14s\n", srv[s], rates[r], c, med(k, d), ratio
        }
    }' "$CSV"
