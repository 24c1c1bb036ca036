#!/usr/bin/env bash
# HTTP boot under load: N concurrent clients (default 200) each fetch the ephemeral kernel and
# initrd, from Ingot (`/MAAS/boot/images/<sha256>`) and, in the same run, from nginx serving the
# same two files. Loopback only. Builds the image with `ingot images build` if needed.
#
#   bench/http-boot.sh            # N=200
#   N=50 bench/http-boot.sh
# Needs: curl, nginx (installed from Debian if missing). Every process started is stopped by PID.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${N:-200}
WORK=$(mktemp -d /tmp/http-boot.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
command -v nginx >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null; }
NGINX=$(command -v nginx)

cd "$REPO"
cargo build --release -q -p ingot -p ingot-agent
BIN=$REPO/target/release/ingot
DATA=$WORK/data
"$BIN" images build --data-dir "$DATA" --agent "$REPO/target/release/ingot-agent" >"$WORK/image.json" 2>/dev/null
K=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kernel"]["sha256"])' "$WORK/image.json")
I=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["initrd"]["sha256"])' "$WORK/image.json")
SIZE=$(( $(stat -c %s "$DATA/images/$K") + $(stat -c %s "$DATA/images/$I") ))

"$BIN" createadmin --data-dir "$DATA" --username admin --password pw >/dev/null 2>&1
INGOT_LOG=warn "$BIN" serve --data-dir "$DATA" --listen 127.0.0.1:15240 >"$WORK/ingot.log" 2>&1 &
PIDS+=($!)
INGOT_LOG=warn "$BIN" serve --data-dir "$DATA" --listen 127.0.0.1:15242 --workers 2 --power-poll-interval 3600 >"$WORK/ingot2.log" 2>&1 &
PIDS+=($!)
mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes 2;
user root;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx; fastcgi_temp_path $WORK/nginx;
  uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
  server { listen 127.0.0.1:15241; root $DATA/images; }
}
CONF
"$NGINX" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:15240/MAAS/ && curl -s -o /dev/null http://127.0.0.1:15241/ && break; sleep 0.1; done

run() { # name base-url
  local name=$1 base=$2 t0 t1
  t0=$(date +%s.%N)
  seq "$N" | xargs -P "$N" -I{} sh -c "curl -s -o /dev/null -w '%{http_code} %{size_download} %{time_total}\n' '$base/$K' && curl -s -o /dev/null -w '%{http_code} %{size_download} %{time_total}\n' '$base/$I'" >"$WORK/$name.txt"
  t1=$(date +%s.%N)
  python3 - "$WORK/$name.txt" "$name" "$t0" "$t1" "$N" "$SIZE" <<'PY'
import sys
rows=[l.split() for l in open(sys.argv[1]) if l.strip()]
name,t0,t1,n,size=sys.argv[2],float(sys.argv[3]),float(sys.argv[4]),int(sys.argv[5]),int(sys.argv[6])
ok=[r for r in rows if r[0] in ("200","206")]
bad=len(rows)-len(ok)
wall=t1-t0
times=sorted(float(r[2]) for r in ok)
p=lambda q: times[min(len(times)-1,int(len(times)*q))] if times else float('nan')
gb=sum(int(r[1]) for r in ok)/1e9
print(f"{name:8s} {n} clients x (kernel+initrd {size/1e6:.1f} MB): wall {wall:.2f}s, {gb/wall:.2f} GB/s, "
      f"requests ok {len(ok)}/{len(rows)} (failed {bad}), per-file p50 {p(.5):.2f}s p99 {p(.99):.2f}s")
PY
}
echo "# $(date -Is) N=$N, $(nproc) CPUs, git $(git -C "$REPO" rev-parse --short HEAD)"
run nginx http://127.0.0.1:15241
run ingot http://127.0.0.1:15240/MAAS/boot/images
run ingot-w2 http://127.0.0.1:15242/MAAS/boot/images
