#!/usr/bin/env bash
# Holds the desk to its OpenAPI document: Schemathesis (property-based API testing) runs every operation of
# /api/openapi.json against a running `windowdesk demo` (seeded tickets, the Cloud API simulator, an API
# token), with every check, a bounded number of examples per operation and a fixed seed. Exits non-zero on
# any finding.
#
#   scripts/schemathesis.sh sqlite
#   scripts/schemathesis.sh postgres://root@127.0.0.1:5432     (the server: a scratch database is created
#                                                               on it for the run and dropped after; a
#                                                               database name in the URL is ignored)
#
# Settings (checks, examples, seed, and the few operations where valid-looking data is refused for what
# the document cannot know) are in scripts/schemathesis.toml. Environment:
#   WINDOWDESK_BIN   the binary to test (default: `cargo build -p windowdesk`, then target/debug/windowdesk)
#   ST_MAX_EXAMPLES  examples per operation and phase (default: the toml's)
#   ST_SEED          the seed (default: the toml's)
#   ST_REPORT_DIR    where to keep the desk's log and Schemathesis' JUnit report (default: a temp dir,
#                    kept only on failure)
#
# Schemathesis is pinned; when `st` is not that version it is installed with pip into a virtualenv under
# ~/.cache/windowdesk. That is the only download: during the run, requests can only reach 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

ST_VERSION=4.32.5
backend=${1:-}
case "$backend" in
  sqlite | postgres://* | postgresql://*) ;;
  *) echo "usage: $0 sqlite | postgres://user@host:port" >&2; exit 2 ;;
esac

# --- Schemathesis, pinned -----------------------------------------------------------------------------
st=$(command -v st || true)
if [ -z "$st" ] || [ "$("$st" --version 2>/dev/null)" != "st, version $ST_VERSION" ]; then
  venv=${XDG_CACHE_HOME:-$HOME/.cache}/windowdesk/schemathesis-$ST_VERSION
  if [ ! -x "$venv/bin/st" ]; then
    echo "== installing schemathesis $ST_VERSION into $venv"
    python=$(command -v python3.11 || command -v python3)
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION"
  fi
  st=$venv/bin/st
fi

# --- the desk ------------------------------------------------------------------------------------------
bin=${WINDOWDESK_BIN:-}
if [ -z "$bin" ]; then
  cargo build --quiet -p windowdesk
  bin=target/debug/windowdesk
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/windowdesk-schemathesis.XXXXXX")
report=${ST_REPORT_DIR:-$work/report}
mkdir -p "$report"
report=$(cd "$report" && pwd)
desk_pid=""
scratch_db=""
pg_server=""
status=1

cleanup() {
  if [ -n "$desk_pid" ] && kill -0 "$desk_pid" 2>/dev/null; then
    # ctrl-c: the desk drains what the run queued; it is killed if that takes over 30 s.
    kill -INT "$desk_pid" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$desk_pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$desk_pid" 2>/dev/null; then
      echo "the desk did not stop within 30 s of ctrl-c; killing it" >&2
      kill -KILL "$desk_pid" 2>/dev/null || true
    fi
    wait "$desk_pid" 2>/dev/null || true
  fi
  if [ -n "$scratch_db" ]; then
    psql "$pg_server/postgres" -qXc "DROP DATABASE IF EXISTS $scratch_db WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [ "$status" -eq 0 ] && [ -z "${ST_REPORT_DIR:-}" ]; then
    rm -rf "$work"
  else
    echo "the desk's log and the report are in $report" >&2
  fi
}
trap cleanup EXIT

demo_args=(demo --fresh --data-dir "$work/demo" --listen 127.0.0.1:0 --sim-listen 127.0.0.1:0)
if [ "$backend" != sqlite ]; then
  rest=${backend#*://}
  pg_server="${backend%%://*}://${rest%%/*}"
  scratch_db="windowdesk_schemathesis_$(date +%s)_$$"
  psql "$pg_server/postgres" -qXc "CREATE DATABASE $scratch_db" >/dev/null
  demo_args+=(--database-url "$pg_server/$scratch_db")
fi

RUST_LOG=${RUST_LOG:-warn} "$bin" "${demo_args[@]}" >"$report/desk.log" 2>&1 &
desk_pid=$!
desk=""
for _ in $(seq 600); do
  desk=$(sed -n 's/^  Desk: *\(http[^ ]*\).*/\1/p' "$report/desk.log")
  [ -n "$desk" ] && break
  kill -0 "$desk_pid" 2>/dev/null || { cat "$report/desk.log" >&2; echo "the desk did not start" >&2; exit 1; }
  sleep 0.1
done
[ -n "$desk" ] || { cat "$report/desk.log" >&2; echo "the desk did not start within 60 s" >&2; exit 1; }
token=$(head -n1 "$work/demo/credentials.txt")
echo "== schemathesis $ST_VERSION against $desk ($backend), ${SECONDS}s after start"

# --- the run -------------------------------------------------------------------------------------------
extra=()
[ -n "${ST_MAX_EXAMPLES:-}" ] && extra+=(--max-examples "$ST_MAX_EXAMPLES")
[ -n "${ST_SEED:-}" ] && extra+=(--seed "$ST_SEED")
# Only the desk is reachable: anything else would go through a proxy that is not there.
export http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
config=$PWD/scripts/schemathesis.toml
set +e
# From the scratch directory, where Hypothesis keeps its character tables.
(cd "$work" && "$st" --config-file "$config" run "$desk/api/openapi.json" \
  --header "Authorization: Bearer $token" \
  --report junit --report-junit-path "$report/junit.xml" \
  --no-color "${extra[@]}")
status=$?
set -e
if ! kill -0 "$desk_pid" 2>/dev/null; then
  echo "the desk stopped during the run" >&2
  status=1
fi
echo "== schemathesis on $backend: exit $status after ${SECONDS}s"
exit "$status"
