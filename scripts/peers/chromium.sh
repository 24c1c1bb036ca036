#!/bin/sh
# Chromium and its WebDriver (Debian's chromium and chromium-driver) for the web UI tests,
# which drive a real headless browser through chromedriver.
# Prints the environment to use:  eval "$(scripts/peers/chromium.sh)"
set -eu
missing=""
for p in chromium chromium-driver; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ] && [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing >&2 \
        || { apt-get update -q >&2; apt-get install -y -q --no-install-recommends $missing >&2; }
fi
if command -v chromedriver >/dev/null 2>&1; then
    echo "export INGOT_CHROMEDRIVER=$(command -v chromedriver)"
else
    echo "chromium.sh: chromedriver is not installed (run as root to install it)" >&2
fi
