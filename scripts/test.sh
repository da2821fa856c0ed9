#!/usr/bin/env bash
# The whole test suite: formatting, lints, every test on SQLite and on PostgreSQL (browser tests
# included), Schemathesis against the API's OpenAPI document on both backends (scripts/schemathesis.sh),
# then the README's run command verbatim (scripts/smoke-readme.sh).
#
#   scripts/test.sh            (extra arguments go to `cargo test`)
#
# PostgreSQL: a fresh database is created for this run on $WINDOWDESK_TEST_PG (default
# postgres://root@127.0.0.1:5432, the local server) and dropped at the end; each test works in a schema
# of its own inside it. If the local server is stopped, it is started. Without PostgreSQL the run fails:
# no suite is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_server=${WINDOWDESK_TEST_PG:-postgres://root@127.0.0.1:5432}
hostport=${pg_server#*@}; host=${hostport%%:*}; port=${hostport##*:}; port=${port%%/*}

if ! command -v cargo >/dev/null; then
  echo "cargo is not installed: install Rust (https://rustup.rs) first" >&2; exit 1
fi

if command -v pg_isready >/dev/null && ! pg_isready -q -h "$host" -p "$port"; then
  if [ "$host" = 127.0.0.1 ] && command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "starting the local PostgreSQL cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    for _ in $(seq 30); do pg_isready -q -h "$host" -p "$port" && break; sleep 1; done
  fi
fi

db="windowdesk_test_$(date +%s)_$$"
if ! psql "$pg_server/postgres" -qXc "CREATE DATABASE $db" >/dev/null; then
  echo "cannot create a test database on $host:$port: the PostgreSQL suite needs a server there (set WINDOWDESK_TEST_PG)" >&2
  exit 1
fi
trap 'psql "$pg_server/postgres" -qXc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
export WINDOWDESK_TEST_DATABASE_URL="$pg_server/$db"

# The browser tests inject the pinned axe-core from tests/browser (package-lock.json).
if [ ! -f tests/browser/node_modules/axe-core/axe.min.js ]; then
  if ! command -v npm >/dev/null; then
    echo "npm is not installed: the browser tests need it to install axe-core (apt-get install nodejs npm)" >&2; exit 1
  fi
  echo "== npm ci (tests/browser)"
  (cd tests/browser && npm ci --no-audit --no-fund)
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
echo "== cargo test (SQLite and PostgreSQL suites; database $db)"
cargo test --workspace --all-features --locked "$@"
# The REST API against its own OpenAPI document, on each backend.
echo "== Schemathesis: the API against /api/openapi.json (SQLite)"
scripts/schemathesis.sh sqlite
echo "== Schemathesis: the API against /api/openapi.json (PostgreSQL)"
scripts/schemathesis.sh "$pg_server"
echo "== README smoke: the README's run command, verbatim, on this checkout"
scripts/smoke-readme.sh
