#!/usr/bin/env bash
# Real-client test: busybox udhcpc, as a BIOS PXE client, gets a lease from ingot's dhcpd across
# a veth pair between two network namespaces this script creates (and always removes).
# Needs root, iproute2 and busybox/udhcpc. Usage: tests/udhcpc-netns.sh [path/to/dhcpd]
set -euo pipefail
BIN=${1:-$(cd "$(dirname "$0")/../../.." && pwd)/target/release/examples/dhcpd}
S=ingotdhcp-s C=ingotdhcp-c
WORK=$(mktemp -d /tmp/ingot-udhcpc.XXXXXX)
SPID=""
cleanup() {
    [ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null || true
    ip netns del "$S" 2>/dev/null || true
    ip netns del "$C" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
UDHCPC=$(command -v udhcpc || echo "busybox udhcpc")

ip netns add "$S"; ip netns add "$C"
ip link add ingotdhcp0 type veth peer name ingotdhcp1
ip link set ingotdhcp0 netns "$S"; ip link set ingotdhcp1 netns "$C"
ip -n "$S" link set lo up; ip -n "$C" link set lo up
ip -n "$S" addr add 192.168.77.1/24 dev ingotdhcp0
ip -n "$S" link set ingotdhcp0 up; ip -n "$C" link set ingotdhcp1 up

ip netns exec "$S" "$BIN" --server-ip 192.168.77.1 --iface ingotdhcp0 --subnet 192.168.77.0/24 \
    --range 192.168.77.100-192.168.77.150 --router 192.168.77.1 --tftp 192.168.77.1 \
    --lease-file "$WORK/leases.log" 2> "$WORK/server.log" &
SPID=$!
for _ in $(seq 50); do ip netns exec "$S" ss -Huln "sport = :67" | grep -q . && break; sleep 0.1; done

cat > "$WORK/script.sh" <<'EOS'
#!/bin/sh
[ "$1" = bound ] && echo "BOUND ip=$ip siaddr=$siaddr tftp=$tftp bootfile=$bootfile boot_file=$boot_file serverid=$serverid lease=$lease" >> "$OUT"
exit 0
EOS
chmod +x "$WORK/script.sh"
# PXE BIOS client: vendor class PXEClient, option 93 = 0x0000
OUT="$WORK/out" ip netns exec "$C" env OUT="$WORK/out" $UDHCPC -i ingotdhcp1 -f -q -n -t 5 -T 1 \
    -V "PXEClient:Arch:00000:UNDI:002001" -x 0x5d:0000 -O tftp -O bootfile -s "$WORK/script.sh"
cat "$WORK/out"
grep -q "ip=192.168.77.1[0-5][0-9]" "$WORK/out"
grep -q "siaddr=192.168.77.1 " "$WORK/out"
grep -q "tftp=192.168.77.1 " "$WORK/out"
grep -Eq "(bootfile|boot_file)=undionly.kpxe" "$WORK/out"
kill -TERM "$SPID"; wait "$SPID" || true; SPID=""
grep -c '^B ' "$WORK/leases.log" | grep -qx 1
echo "udhcpc-netns: PASS"
