#!/usr/bin/env bash
# Install the IPMI peers the ingot-power IPMI tests and benchmark use:
#   * Debian `openipmi` (ipmi_sim) and `ipmitool`, via apt-get, if missing;
#   * a Python venv at ${INGOT_PEERS_VENV:-<repo>/.venv-peers} with `pyghmi`.
# Idempotent and fast when everything is already there.
# Prints `export INGOT_PYGHMI_PYTHON=...` (and INGOT_IPMITOOL) lines, or writes them to the
# file given as $1:   eval "$(scripts/peers/ipmi.sh)"   or   scripts/peers/ipmi.sh env.sh
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${INGOT_PEERS_VENV:-$REPO/.venv-peers}
log() { echo "ipmi.sh: $*" >&2; }

if ! command -v ipmi_sim >/dev/null || ! command -v ipmitool >/dev/null; then
  log "installing openipmi + ipmitool (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -q >&2
  $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends openipmi ipmitool >&2
fi

PY=$VENV/bin/python
if ! [ -x "$PY" ] || ! "$PY" -c 'import pyghmi' 2>/dev/null; then
  log "creating venv $VENV with pyghmi"
  BASE_PY=$(command -v python3)
  "$BASE_PY" -m venv "$VENV" >&2
  "$PY" -m pip install -q --disable-pip-version-check pyghmi >&2
fi

OUT="export INGOT_PYGHMI_PYTHON=$PY
export INGOT_IPMITOOL=$(command -v ipmitool)"
if [ $# -ge 1 ]; then
  printf '%s\n' "$OUT" > "$1"
  log "wrote $1"
else
  printf '%s\n' "$OUT"
fi
