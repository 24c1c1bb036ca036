#!/usr/bin/env bash
# Image laying speed: the agent's image step (`ingot-agent install`, HTTP stream → SHA-256 →
# decompress → extract) against what curtin does for the same image in the same run
# (`wget -O- URL | tar -C target -Sxpzf -`, here with curl; for squashfs `unsquashfs`), for the
# real Debian 12 root tarball of scripts/peers/debian-image.sh in three forms: tgz (as built),
# txz (xz -T2 of the same tar) and squashfs (mksquashfs -comp xz of the same tree). Each side
# gets a freshly formatted ext4 on the same loop device, the image served from 127.0.0.1.
#
#   sudo bench/image-stream.sh          # prints one line per form and the ratio ingot/peer
#
# Needs root (loop devices, mounts), curl, tar, xz, mksquashfs/unsquashfs (squashfs-tools),
# python3, and the agent (INGOT_AGENT, default the static one of scripts/build-agent.sh).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { printf 'image-stream.sh: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root"
for t in curl tar xz mksquashfs unsquashfs python3 losetup mke2fs findmnt; do
  command -v "$t" >/dev/null || die "$t is not installed"
done
eval "$(bash "$REPO/scripts/peers/debian-image.sh")"
IMG=$(ls "$INGOT_DEBIAN_IMAGE_CACHE"/debian-12-*.tgz 2>/dev/null | head -1)
[ -n "$IMG" ] || die "no Debian image in $INGOT_DEBIAN_IMAGE_CACHE (run the Debian e2e once, or ingot_images::debian)"
AGENT=${INGOT_AGENT:-}
if [ -z "$AGENT" ]; then
  AGENT=$(bash "$REPO/scripts/build-agent.sh")
fi
W=$(mktemp -d /tmp/ingot-image-stream.XXXXXX)
LOOP=""
SERVER=""
cleanup() {
  mountpoint -q "$W/mnt" 2>/dev/null && umount "$W/mnt"
  [ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/www" "$W/mnt" "$W/tree"
cp "$IMG" "$W/www/root.tgz"
echo "making the txz and squashfs forms of $(basename "$IMG") ..." >&2
gzip -dc "$W/www/root.tgz" | xz -T2 -3 -c > "$W/www/root.txz"
tar -C "$W/tree" --numeric-owner -xzf "$W/www/root.tgz"
mksquashfs "$W/tree" "$W/www/root.squashfs" -comp xz -quiet -no-progress >/dev/null
rm -rf "$W/tree"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$W/www" >/dev/null 2>&1 &
SERVER=$!
sleep 1
truncate -s 4G "$W/disk.img"
LOOP=$(losetup -f --show -P "$W/disk.img")
BASE="http://127.0.0.1:$PORT"

fresh_fs() {
  # A fresh ext4 on the partition the agent's storage step made just before (GPT, one
  # partition over the disk), as the agent makes it.
  [ -b "${LOOP}p1" ] || die "no ${LOOP}p1: the agent's storage step did not run"
  mke2fs -F -q -t ext4 "${LOOP}p1" >/dev/null
}

peer() { # $1 = form
  fresh_fs
  mount "${LOOP}p1" "$W/mnt"
  sync; echo 3 > /proc/sys/vm/drop_caches
  local t0 t1
  t0=$(date +%s.%N)
  case "$1" in
    tgz) curl -sf "$BASE/root.tgz" | tar -C "$W/mnt" -Sxpzf - ;;
    txz) curl -sf "$BASE/root.txz" | tar -C "$W/mnt" -SxpJf - ;;
    squashfs) curl -sf -o "$W/mnt/.img" "$BASE/root.squashfs" \
                && unsquashfs -f -q -n -d "$W/mnt" "$W/mnt/.img" >/dev/null && rm -f "$W/mnt/.img" ;;
  esac
  # No sync before the clock stops: the agent's image step does not sync either (the
  # page cache takes the writes on both sides).
  t1=$(date +%s.%N)
  umount "$W/mnt"
  python3 -c "print(f'{$t1-$t0:.2f}')"
}

ingot() { # $1 = form, $2 = kind
  local f="$W/www/root.$1" sha size
  sha=$(sha256sum "$f" | cut -d' ' -f1)
  size=$(stat -c %s "$f")
  python3 - "$W/deploy.json" "$BASE/root.$1" "$sha" "$size" "$2" "$LOOP" <<'EOF'
import json, sys
out, url, sha, size, kind, dev = sys.argv[1:]
json.dump({
  "system_id": "bench", "fqdn": "bench.maas", "hostname": "bench",
  "image": {"name": "custom/debian-12", "url": url, "sha256": sha, "size": int(size), "kind": kind},
  "storage": [
    {"type": "disk", "id": "disk0", "serial": None, "path": dev, "size": 0, "ptable": "gpt", "boot": True},
    {"type": "partition", "id": "p1", "device": "disk0", "number": 1, "size": 0, "flag": None},
    {"type": "format", "id": "f1", "volume": "p1", "fstype": "ext4", "label": None, "uuid": None},
    {"type": "mount", "id": "m1", "format": "f1", "path": "/", "options": None}],
  "network_config": "version: 2\n", "user_data": None, "ssh_keys": [],
  "reporting": {"endpoint": "http://127.0.0.1:9/x", "consumer_key": "c", "token_key": "t", "token_secret": "s"},
}, open(out, "w"))
EOF
  sync; echo 3 > /proc/sys/vm/drop_caches
  mkdir -p "$W/target"
  # The image step's own time, as the agent logs it (storage before it, seed and boot loader
  # after it are not the comparison); the install ends at the boot loader.
  RUST_LOG=info "$AGENT" install --config "$W/deploy.json" --target "$W/target" >"$W/agent.out" 2>"$W/agent.err" || true
  grep -q 'step="image".*ok=true' "$W/agent.err" || { cat "$W/agent.out" "$W/agent.err" >&2; die "the agent's image step failed ($1)"; }
  sed -n 's/.*step="image" secs=\([0-9.]*\).*/\1/p' "$W/agent.err" | head -1 | xargs printf '%.2f\n'
  umount -R "$W/target" 2>/dev/null || true
}

printf '%-9s %10s %10s %8s  (%s)\n' form ingot_s peer_s ratio "peer: curl | tar, or curl + unsquashfs"
for form in tgz:tgz txz:txz squashfs:squashfs; do
  f=${form%%:*}; k=${form#*:}
  i=$(ingot "$f" "$k")
  p=$(peer "$f")
  printf '%-9s %10s %10s %8s  (%s bytes)\n' "$f" "$i" "$p" \
    "$(python3 -c "print(f'{$i/$p:.2f}')")" "$(stat -c %s "$W/www/root.$f")"
done
