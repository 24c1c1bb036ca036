#!/usr/bin/env bash
# Ingot's whole test suite, in one command. Works on a fresh Debian machine as root (CI runs it
# through .ci/run with CI=true and no stdin) and on a developer's box.
#
#   scripts/test.sh                      # install what is missing, lint, doc tests, all tests
#   scripts/test.sh -E 'test(alloc)'     # extra arguments go to `cargo nextest run`
#   scripts/test.sh --with-env CMD...    # set everything up (PostgreSQL, venv), run CMD instead
#                                        # of the suite, e.g. --with-env cargo test -p ingot-store
#
# What it does:
#   1. Debian packages: postgresql (server) and python3-venv when missing (apt-get update only then).
#      The peers the tests run against (scripts/peers/*.sh) install in the background from here
#      on, beside the lint and the builds; the suite waits for them before the tests.
#   2. A Python venv at ${INGOT_VENV:-$REPO/.venv} with python-libmaas==0.6.8 + setuptools.
#   3. A throwaway PostgreSQL server on 127.0.0.1:<free port>, data in a temp dir, run as the
#      `postgres` user, stopped (by its own data dir) on exit. Exports
#      INGOT_TEST_PG_URL=postgres://ingot:ingot@127.0.0.1:PORT/ingot_test (role has CREATEDB).
#   4. cargo fmt --check, the build linted by clippy (-D warnings), doc tests, then cargo nextest
#      (or cargo test).
#      Exported for the tests: INGOT_TEST_PG_URL, INGOT_LIBMAAS_PYTHON, INGOT_SHARED_DIR, and
#      INGOT_AGENT_BIN (the static agent scripts/build-agent.sh builds, before the tests).
#
# Env: INGOT_VENV (venv dir), INGOT_SHARED_DIR (default $REPO/../shared), INGOT_SKIP_LINT=1,
#      INGOT_FUZZ_SECONDS (per fuzz target, default 10; 0 skips the fuzz stage).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
VENV=${INGOT_VENV:-$REPO/.venv}
LIBMAAS_VERSION=0.6.8
export DEBIAN_FRONTEND=noninteractive PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1

T0=$SECONDS
# Each stage's start, printed again as a table when the script ends (pass or fail), so the end
# of a CI log says where the time went.
STAGES=()
section() {
  STAGES+=("$(printf '%6ds  %s' $((SECONDS - T0)) "$*")")
  printf '\n==== %s  [%ds] ====\n' "$*" $((SECONDS - T0))
}
stage_times() {
  printf '\n==== where the time went (start of each stage, seconds) ====\n'
  printf '%s\n' "${STAGES[@]}"
  printf '%6ds  end\n' $((SECONDS - T0))
  # The slowest tests, from nextest's JUnit report (.config/nextest.toml writes it).
  local junit=${CARGO_TARGET_DIR:-$REPO/target}/nextest/ci/junit.xml
  if [ -f "$junit" ] && [ "$junit" -nt "$PGTMP" ]; then
    printf '==== the 15 slowest tests (seconds) ====\n'
    "$PY" - "$junit" <<'PYEOF' || true
import sys, xml.etree.ElementTree as ET
cases = [(float(c.get("time", 0)), c.get("classname", ""), c.get("name", ""))
         for c in ET.parse(sys.argv[1]).iter("testcase")]
for t, cls, name in sorted(cases, reverse=True)[:15]:
    print(f"{t:8.1f}  {cls} {name}")
print(f"{sum(t for t, _, _ in cases):8.1f}  all {len(cases)} tests, added up")
PYEOF
  fi
}
die() { printf 'test.sh: ERROR: %s\n' "$*" >&2; exit 1; }

WITH_ENV=0
if [ "${1:-}" = "--with-env" ]; then
  WITH_ENV=1; shift
  [ $# -gt 0 ] || die "--with-env needs a command"
fi

# Run a command as the PostgreSQL system user (initdb and postgres refuse to run as root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    # cd /: the repo may sit under a directory the postgres user cannot enter.
    if command -v runuser >/dev/null 2>&1; then (cd / && runuser -u postgres -- "$@")
    else (cd / && su postgres -s /bin/sh -c "$(printf '%q ' "$@")"); fi
  else
    "$@"
  fi
}

# ---------------------------------------------------------------------------------------------
section "System packages"
PY=python3
command -v python3.11 >/dev/null 2>&1 && PY=python3.11
missing=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
# tests/tls.rs makes its certificates with the openssl command.
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  # The interpreter on PATH cannot make venvs: fall back to Debian's python3 + python3-venv.
  PY=/usr/bin/python3
  /usr/bin/python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
fi
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing Debian packages (${missing[*]}): install them as root"
  echo "installing: ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "postgresql and a venv-capable python are present"
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
[ -x "$PGBIN/initdb" ] || die "no initdb under /usr/lib/postgresql/*/bin"
if [ "$(id -u)" = 0 ]; then id postgres >/dev/null 2>&1 || die "no 'postgres' system user"; fi
echo "PostgreSQL binaries: $PGBIN ($("$PGBIN/postgres" --version))"
echo "Python: $("$PY" --version 2>&1) ($(command -v "$PY"))"

# ---------------------------------------------------------------------------------------------
section "Python venv $VENV (python-libmaas==$LIBMAAS_VERSION)"
venv_ok() {
  "$VENV/bin/python" - "$LIBMAAS_VERSION" >/dev/null 2>&1 <<'PY'
import sys, importlib.metadata as m
assert m.version("python-libmaas") == sys.argv[1]
import setuptools, maas.client  # noqa: F401  (libmaas imports distutils: setuptools provides it)
PY
}
if venv_ok; then
  echo "venv already has python-libmaas $LIBMAAS_VERSION"
else
  # --clear also repairs a venv whose interpreter moved or broke.
  "$PY" -m venv --clear "$VENV"
  "$VENV/bin/pip" install -q -U pip
  "$VENV/bin/pip" install -q "python-libmaas==$LIBMAAS_VERSION" setuptools
  venv_ok || die "python-libmaas installed but 'import maas.client' fails in $VENV"
  echo "installed python-libmaas $LIBMAAS_VERSION into $VENV"
fi
export INGOT_LIBMAAS_PYTHON="$VENV/bin/python"

SHARED=${INGOT_SHARED_DIR:-$REPO/../shared}
if [ -d "$SHARED" ]; then
  INGOT_SHARED_DIR=$(cd "$SHARED" && pwd)
  export INGOT_SHARED_DIR
  [ -f "$INGOT_SHARED_DIR/peers/libmaas-smoke.py" ] || echo "warning: $INGOT_SHARED_DIR/peers/libmaas-smoke.py not found"
else
  echo "warning: shared dir $SHARED not found; tests that need it will skip or fail"
  export INGOT_SHARED_DIR="$SHARED"
fi
echo "INGOT_LIBMAAS_PYTHON=$INGOT_LIBMAAS_PYTHON"
echo "INGOT_SHARED_DIR=$INGOT_SHARED_DIR"

# ---------------------------------------------------------------------------------------------
section "Peers: ipmi_sim, ipmitool, pyghmi, sushy-emulator, QEMU, BIND, promtool, gpg, Chromium (in the background)"
# Each installer is idempotent and prints the `export` lines its tests read. On a fresh machine
# they mostly wait on downloads and dpkg, so they run in the background beside the lint and the
# builds (which mostly wait on the two cores); nothing before the tests needs them. Their output,
# their times and their exports go to $PEERS_DIR; the suite waits for them before the tests (and
# before the command of --with-env), and stops there if one failed.
#
# The Debian 12 image the end-to-end tests deploy (mmdebstrap, about 7 min with a cold cache,
# as in CI) is built in the background as soon as mmdebstrap is installed (its installer comes
# first), instead of inside the first test that needs it. Tests wait on the same cache lock,
# and build it themselves if this failed (its log is printed before the tests).
PEERS_DIR=$(mktemp -d /tmp/ingot-peers.XXXXXX)
DEBIAN_LOG=
if [ "$WITH_ENV" = 0 ] && [ "$(id -u)" = 0 ]; then DEBIAN_LOG=$PEERS_DIR/debian-image.log; fi
(
  set -euo pipefail
  for peer in debian-image ipmi redfish qemu tftp dns metrics images deploy cloudinit streams gomaasapi chromium; do
    t_peer=$SECONDS
    envs=$(bash "$REPO/scripts/peers/$peer.sh") || { echo "installing the $peer peers failed"; exit 1; }
    printf '%6ds    (peer %s took %ds)\n' $((t_peer - T0)) "$peer" $((SECONDS - t_peer)) >>"$PEERS_DIR/times"
    eval "$envs"
    printf '%s\n' "$envs" | tee -a "$PEERS_DIR/env"
    if [ "$peer" = debian-image ] && [ -n "$DEBIAN_LOG" ] && [ -n "${INGOT_DEBIAN_IMAGE_CACHE:-}" ] \
        && command -v mmdebstrap >/dev/null 2>&1; then
      ( cargo build -q -p ingot-images --example debian_image \
          && "${CARGO_TARGET_DIR:-$REPO/target}/debug/examples/debian_image" "$INGOT_DEBIAN_IMAGE_CACHE" ) \
        >"$DEBIAN_LOG" 2>&1 &
      echo "building the Debian 12 image in the background (log $DEBIAN_LOG)"
    fi
  done
) >"$PEERS_DIR/log" 2>&1 &
PEERS_PID=$!
echo "installing the peers in the background (log $PEERS_DIR/log)"
# Waits for the peers' installers, prints what they said, and takes their exports and times.
wait_peers() {
  [ -n "${PEERS_PID:-}" ] || return 0
  section "Peers: waiting for the background installers"
  local rc=0
  wait "$PEERS_PID" || rc=$?
  PEERS_PID=
  cat "$PEERS_DIR/log"
  if [ -f "$PEERS_DIR/times" ]; then mapfile -t -O "${#STAGES[@]}" STAGES <"$PEERS_DIR/times"; fi
  [ "$rc" = 0 ] || die "installing the peers failed (exit $rc; output above)"
  eval "$(cat "$PEERS_DIR/env")"
}

# ---------------------------------------------------------------------------------------------
section "Throwaway PostgreSQL on 127.0.0.1"
PGTMP=$(mktemp -d /tmp/ingot-pg.XXXXXX)
PGDATA_DIR=$PGTMP/data
PG_STARTED=0
stop_pg() {
  local rc=$?
  stage_times
  # The background fuzz run, if the suite stops before waiting for it.
  if [ -n "${FUZZ_PID:-}" ]; then kill "$FUZZ_PID" 2>/dev/null || true; fi
  if [ "$PG_STARTED" = 1 ]; then
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 30 stop >/dev/null 2>&1 \
      || echo "test.sh: warning: pg_ctl stop failed for $PGDATA_DIR" >&2
  fi
  rm -rf "$PGTMP"
  # Installers are left to finish (killing apt-get or dpkg midway breaks the next run).
  if [ -n "${PEERS_PID:-}" ]; then
    echo "test.sh: the peers' installers are still running (pid $PEERS_PID, log $PEERS_DIR/log)" >&2
  else
    rm -rf "$PEERS_DIR"
  fi
  return $rc
}
trap stop_pg EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
[ "$(id -u)" = 0 ] && chown postgres:postgres "$PGTMP"
chmod 700 "$PGTMP"

as_pg "$PGBIN/initdb" -D "$PGDATA_DIR" -U postgres -E UTF8 --no-locale \
  --auth-local=trust --auth-host=scram-sha-256 >"$PGTMP/initdb.log" 2>&1 \
  || { cat "$PGTMP/initdb.log" >&2; die "initdb failed"; }

# A port nobody listens on (connection refused), tried a few times in case of a race.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PGPORT=
for _ in 1 2 3 4 5; do
  p=$((20000 + RANDOM % 40000))
  port_free "$p" || continue
  if as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$PGTMP/postgres.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $p -k $PGTMP -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null; then
    PGPORT=$p; PG_STARTED=1; break
  fi
  tail -n 20 "$PGTMP/postgres.log" >&2 || true
done
[ -n "$PGPORT" ] || die "could not start PostgreSQL (log above)"

as_pg "$PGBIN/psql" -X -q -h "$PGTMP" -p "$PGPORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
  -c "CREATE ROLE ingot LOGIN CREATEDB PASSWORD 'ingot'" \
  -c "CREATE DATABASE ingot_test OWNER ingot" >/dev/null
export INGOT_TEST_PG_URL="postgres://ingot:ingot@127.0.0.1:$PGPORT/ingot_test"
"$PGBIN/psql" -X -tA "$INGOT_TEST_PG_URL" -c 'select 1' | grep -qx 1 \
  || die "cannot connect to $INGOT_TEST_PG_URL"
echo "PostgreSQL $PGPORT up, data $PGDATA_DIR"
echo "INGOT_TEST_PG_URL=$INGOT_TEST_PG_URL"

if [ "$WITH_ENV" = 1 ]; then
  wait_peers
  section "Running: $*"
  set +e; "$@"; rc=$?; set -e
  exit $rc
fi

# ---------------------------------------------------------------------------------------------
command -v cargo >/dev/null 2>&1 || die "cargo not found on PATH"
# Clippy lints the build itself: clippy-driver compiles the workspace's crates (as `cargo clippy`
# has it check them) while the dependencies are built once, for the tests. A separate
# `cargo clippy` checked every dependency again first: about 6 of CI's minutes on two cores.
# `linted_cargo` runs cargo with the same settings for the build, the doc tests and the test run, so
# the tests reuse what the linted build made.
LINT_ENV=()
if [ "${INGOT_SKIP_LINT:-0}" != 1 ]; then
  section "cargo fmt --all -- --check"
  cargo fmt --all -- --check
  CLIPPY_DRIVER=$(command -v clippy-driver || true)
  [ -n "$CLIPPY_DRIVER" ] || CLIPPY_DRIVER=$(rustc --print sysroot)/bin/clippy-driver
  [ -x "$CLIPPY_DRIVER" ] || die "no clippy-driver (rustup component add clippy)"
  # CLIPPY_ARGS is how cargo-clippy hands `-- -D warnings` to the driver.
  LINT_ENV=(RUSTC_WORKSPACE_WRAPPER="$CLIPPY_DRIVER" CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__")
fi
linted_cargo() { env "${LINT_ENV[@]}" cargo "$@"; }
if [ ${#LINT_ENV[@]} -gt 0 ]; then
  section "cargo build --workspace --all-targets, linted by clippy (-D warnings)"
else
  section "cargo build --workspace --all-targets"
fi
linted_cargo build --workspace --all-targets

# The fuzz targets (fuzz/): a short coverage-guided run of each parser of network input, with
# the regression seeds; INGOT_FUZZ_SECONDS=0 skips it. It builds in a target directory of its
# own (target/fuzz), so it runs in the background beside the doc tests' and the agent's builds
# (its fuzzing is one process: the other core would idle), and the suite waits for it, and
# stops on a crash it found, before the tests start.
FUZZ_PID=
if [ "${INGOT_FUZZ_SECONDS:-10}" != 0 ]; then
  section "fuzz targets, ${INGOT_FUZZ_SECONDS:-10}s each (in the background)"
  FUZZ_LOG=$(mktemp /tmp/ingot-fuzz.XXXXXX)
  FUZZ_SECONDS=${INGOT_FUZZ_SECONDS:-10} bash "$REPO/scripts/fuzz.sh" >"$FUZZ_LOG" 2>&1 &
  FUZZ_PID=$!
fi

# Doc tests first, so the main runner's summary is what the output ends with.
section "cargo test --workspace --doc"
linted_cargo test --workspace --doc

# The agent as machines get it (maas-run-scripts, the initramfs): statically linked, built once
# here rather than inside the first test that needs it (tests/common/host.rs reads the path).
section "static ingot-agent (scripts/build-agent.sh)"
INGOT_AGENT_BIN=$(bash "$REPO/scripts/build-agent.sh")
export INGOT_AGENT_BIN
ls -l "$INGOT_AGENT_BIN"

if [ -n "$FUZZ_PID" ]; then
  section "fuzz targets: waiting for the background run"
  fuzz_rc=0; wait "$FUZZ_PID" || fuzz_rc=$?
  FUZZ_PID=
  cat "$FUZZ_LOG"; rm -f "$FUZZ_LOG"
  [ "$fuzz_rc" = 0 ] || die "the fuzz targets failed (exit $fuzz_rc; output above)"
fi

wait_peers
if [ -n "$DEBIAN_LOG" ] && [ -f "$DEBIAN_LOG" ]; then
  echo "the background Debian 12 image build so far:"; cat "$DEBIAN_LOG" || true
fi

if cargo nextest --version >/dev/null 2>&1; then
  section "cargo nextest run --workspace --profile ci"
  linted_cargo nextest run --workspace --profile ci --no-tests=warn "$@"
else
  section "cargo test --workspace"
  linted_cargo test --workspace "$@"
fi
