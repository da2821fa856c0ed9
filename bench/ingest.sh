#!/usr/bin/env bash
# Ingest benchmark: a release `windowdesk serve` and the load generator on this machine, over loopback.
#
#   bench/ingest.sh sqlite|postgres [loadgen args…]
#
# Runs a closed-loop throughput test and an open-loop test at 5,000 requests/s, printing one line of
# figures per run. PostgreSQL uses a fresh database that is dropped afterwards.
set -euo pipefail
backend=${1:-sqlite}; shift || true
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
port=${BENCH_PORT:-18181}
[ -n "${BENCH_NO_BUILD:-}" ] || cargo build --release -q -p windowdesk -p windowdesk-loadgen --manifest-path "$root/Cargo.toml"
bin="$root/target/release"

case "$backend" in
  sqlite) url="sqlite://$work/bench.db" ;;
  postgres)
    db="windowdesk_bench_$$"
    psql -h 127.0.0.1 -U root -d postgres -qc "CREATE DATABASE $db" >/dev/null
    url="postgres://root@127.0.0.1:5432/$db" ;;
  *) echo "usage: $0 sqlite|postgres" >&2; exit 2 ;;
esac

cat > "$work/config.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
[database]
url = "$url"
max_in_flight = ${BENCH_IN_FLIGHT:-3}
pool_size = 8
[log]
level = "warn"
[[business_numbers]]
phone_number_id = "1000000001"
waba_id = "2000000001"
display_number = "+49 30 0000000"
name = "Bench"
access_token = "bench-token"
app_secret = "bench-secret"
verify_token = "bench-verify"
TOML

"$bin/windowdesk" serve --config "$work/config.toml" > "$work/serve.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true
  if [ "$backend" = postgres ]; then psql -h 127.0.0.1 -U root -d postgres -qc "DROP DATABASE IF EXISTS $db" >/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

echo "# backend=$backend durable commit before 200 ($( [ "$backend" = sqlite ] && echo 'WAL, synchronous=FULL' || echo 'synchronous_commit=on'))"
echo -n "closed loop: "
"$bin/windowdesk-loadgen" --url "http://127.0.0.1:$port/webhooks/whatsapp" --requests "${BENCH_REQUESTS:-200000}" --connections "${BENCH_CONNECTIONS:-256}" --run-id max "$@"
echo -n "open loop:   "
"$bin/windowdesk-loadgen" --url "http://127.0.0.1:$port/webhooks/whatsapp" --requests 50000 --connections 256 --rate 5000 --run-id rate "$@"
echo -n "stored messages: "
curl -s "http://127.0.0.1:$port/metrics" | grep 'inbound_messages_total{result="new"}'
