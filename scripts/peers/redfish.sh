#!/usr/bin/env bash
# Install the Redfish BMC emulator (sushy-tools' sushy-emulator) into a venv for the
# ingot-power Redfish tests (crates/power/tests/redfish.rs). Idempotent and quick when the
# venv already has it.
#
#   scripts/peers/redfish.sh                 # install into ${INGOT_SUSHY_VENV:-<repo>/.venv-sushy}
#   eval "$(scripts/peers/redfish.sh)"       # ...and export INGOT_SUSHY_VENV in this shell
#
# Env: INGOT_SUSHY_VENV (venv dir), SUSHY_TOOLS_SPEC (pip requirement, default sushy-tools).
# Progress goes to stderr; the only stdout line is `export INGOT_SUSHY_VENV=...`.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${INGOT_SUSHY_VENV:-$REPO/.venv-sushy}
SPEC=${SUSHY_TOOLS_SPEC:-sushy-tools}
export PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1

installed() {
  [ -x "$VENV/bin/sushy-emulator" ] && "$VENV/bin/python" -c 'import sushy_tools, bcrypt' >/dev/null 2>&1
}

if installed; then
  echo "redfish.sh: sushy-tools already installed in $VENV" >&2
else
  command -v python3 >/dev/null || { echo "redfish.sh: ERROR: python3 not found" >&2; exit 1; }
  if [ ! -x "$VENV/bin/python" ]; then
    if ! python3 -m venv "$VENV" >&2; then
      # Debian without python3-venv: install it and retry once.
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        rm -rf "$VENV"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
        python3 -m venv "$VENV" >&2
      else
        echo "redfish.sh: ERROR: python3 -m venv failed (install python3-venv)" >&2; exit 1
      fi
    fi
  fi
  echo "redfish.sh: installing $SPEC into $VENV" >&2
  "$VENV/bin/pip" install -q "$SPEC" bcrypt >&2
  installed || { echo "redfish.sh: ERROR: sushy-emulator missing after install" >&2; exit 1; }
  echo "redfish.sh: installed $("$VENV/bin/pip" show sushy-tools 2>/dev/null | sed -n 's/^Version: /sushy-tools /p')" >&2
fi
printf 'export INGOT_SUSHY_VENV=%q\n' "$VENV"
