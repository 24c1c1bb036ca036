#!/usr/bin/env bash
# bench/tftp.sh - ingot-tftp against tftpd-hpa and dnsmasq, same run, same client, same file.
#
# Builds crates/tftp/examples/tftpd in release mode and runs /work/shared/bench/tftp-peers.sh
# (namespaces srv/cli from netns.sh; server on 10.66.0.1:69 in "srv") for
# SERVERS="tftpd-hpa dnsmasq custom" with SERVER_NAME=ingot, then prints ingot's medians as
# ratios against both peers. Needs root and the tftpd-hpa + dnsmasq(-base) packages (installed
# with apt-get if missing; their services are not started). Every server is started and
# stopped by PID by tftp-peers.sh.
#
# Env: PEERS_DIR (default /work/shared/bench), INGOT_THREADS (default 1), and tftp-peers.sh's
# knobs (REPS, STORM, SIZE_MIB, ...). CSV: $CSV (default /tmp/bench/tftp-ingot-<ts>.csv).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PEERS_DIR=${PEERS_DIR:-/work/shared/bench}
INGOT_THREADS=${INGOT_THREADS:-1}
export CSV=${CSV:-/tmp/bench/tftp-ingot-$(date +%Y%m%d-%H%M%S).csv}
mkdir -p "$(dirname "$CSV")"

if ! command -v in.tftpd >/dev/null || ! command -v dnsmasq >/dev/null; then
    apt-get install -y -qq tftpd-hpa dnsmasq-base >/dev/null
fi
(cd "$REPO" && cargo build --release -q -p ingot-tftp --example tftpd)
BIN="$REPO/target/release/examples/tftpd"
[ -x "$BIN" ] || { echo "missing $BIN" >&2; exit 1; }

SERVERS="tftpd-hpa dnsmasq custom" SERVER_NAME=ingot \
SERVER_CMD="$BIN --root \"\$TFTP_ROOT\" --listen 10.66.0.1:69 --threads $INGOT_THREADS" \
    "$PEERS_DIR/tftp-peers.sh"

echo
echo "ingot vs peers (medians; time ratio < 1 = ingot faster, MB/s ratio > 1 = ingot faster;"
echo "CPU ratio < 1 = ingot uses less server CPU; tftpd-hpa's CPU is not measurable: n/a)"
awk -F, '
NR > 1 { k = $1 SUBSEP $2 SUBSEP $5; n[k]++; t[k, n[k]] = $6; m[k, n[k]] = $8; c[k, n[k]] = $11; tests[$2 SUBSEP $5] = 1 }
function med(arr, k, cnt,   i, j, v, tmp, x) {
    cnt = n[k]; if (!cnt) return "nan"; x = 0
    for (i = 1; i <= cnt; i++) if (arr[k, i] != "nan" && arr[k, i] != "") v[++x] = arr[k, i] + 0
    if (!x) return "nan"
    for (i = 1; i <= x; i++) for (j = i + 1; j <= x; j++) if (v[j] < v[i]) { tmp = v[i]; v[i] = v[j]; v[j] = tmp }
    return (x % 2) ? v[(x + 1) / 2] : (v[x / 2] + v[x / 2 + 1]) / 2
}
function ratio(a, b) { return (a == "nan" || b == "nan" || b == 0) ? "n/a" : sprintf("%.2f", a / b) }
END {
    printf "%-18s | %-8s %-8s %-8s | %-8s %-8s | %-8s %-8s %-8s | %-9s %-9s | %s\n", "test", "t ingot", "t hpa", "t dnsm", "t/hpa", "t/dnsm", "cpu ingot", "cpu dnsm", "", "cpu/dnsm", "", "MB/s ingot/hpa/dnsm"
    for (tb in tests) {
        split(tb, p, SUBSEP)
        ki = "ingot" SUBSEP tb; kh = "tftpd-hpa" SUBSEP tb; kd = "dnsmasq" SUBSEP tb
        ti = med(t, ki); th = med(t, kh); td = med(t, kd)
        ci = med(c, ki); cd = med(c, kd)
        printf "%-18s | %-8s %-8s %-8s | %-8s %-8s | %-8s %-8s %-8s | %-9s %-9s | %s/%s/%s\n", p[1] " blk=" p[2], ti, th, td, ratio(ti, th), ratio(ti, td), ci, cd, "", ratio(ci, cd), "", med(m, ki), med(m, kh), med(m, kd)
    }
}' "$CSV"
echo "CSV: $CSV"
