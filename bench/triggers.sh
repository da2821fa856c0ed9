#!/usr/bin/env bash
# Trigger benchmark (issue 13): webhook ingest without rules and with 50 active triggers, in one run
# against one release `windowdesk serve`, and how fast the rules worker gets through the events.
#
#   bench/triggers.sh sqlite|postgres
#
# The rules are switched on and off between phases, in rounds: A (no rules), B (50 triggers), A, B,
# ... BENCH_ROUNDS times (default 3), so both see the same database growth and the machine's drift;
# the summary compares the medians. In B: 50 triggers on `message_received`: 40 on words in the
# message (with conditions on status, tags, business hours and the window), BENCH_FIRING of which
# (default 5, at most 5) match every generated message and tag the ticket, and 10 on the ticket
# alone (priority and tags) that match none, so the worker reads every message's ticket. Each phase
# runs a closed-loop throughput test and an open-loop test at BENCH_RATE requests/s (default
# 2,000), then waits until the rules worker has looked at every event.
set -euo pipefail
backend=${1:-sqlite}; shift || true
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
port=${BENCH_PORT:-18182}
requests=${BENCH_REQUESTS:-50000}
rate=${BENCH_RATE:-2000}
[ -n "${BENCH_NO_BUILD:-}" ] || cargo build --release -q -p windowdesk -p windowdesk-loadgen --manifest-path "$root/Cargo.toml"
bin="$root/target/release"

case "$backend" in
  sqlite) url="sqlite://$work/bench.db" ;;
  postgres)
    db="windowdesk_bench_rules_$$"
    psql -h 127.0.0.1 -U root -d postgres -qc "CREATE DATABASE $db" >/dev/null
    url="postgres://root@127.0.0.1:5432/$db" ;;
  *) echo "usage: $0 sqlite|postgres" >&2; exit 2 ;;
esac

cat > "$work/config.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
[database]
url = "$url"
pool_size = 8
[log]
level = "warn"
[rules]
seed_defaults = false
[whatsapp]
api_base_url = "http://127.0.0.1:9"
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
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
token=$("$bin/windowdesk" token create --name bench --config "$work/config.toml" 2>/dev/null | tail -n1)
api="http://127.0.0.1:$port/api/v1"
metric() { curl -s "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

# Waits until the rules worker has looked at every stored message; prints how long that took after
# the load ended, and the rules that fired.
drain() {
  local messages events start
  start=$(date +%s.%N)
  messages=$(curl -s "http://127.0.0.1:$port/metrics" | awk '$1 == "windowdesk_inbound_messages_total{result=\"new\"}" {print $2}')
  # Every message, and the tickets they opened, is one event: caught up when the count reached the
  # messages and has stood still for a second.
  local last=-1 waited=0
  while :; do
    events=$(metric windowdesk_rule_events_total)
    [ "${events:-0}" -ge "$messages" ] && [ "$events" = "$last" ] && break
    if [ "$waited" -ge "${BENCH_DRAIN_LIMIT:-300}" ]; then
      echo "rules worker: NOT caught up ${waited} s after the load ended: ${events} events looked at of at least ${messages}"
      return
    fi
    last=$events
    waited=$((waited + 1))
    sleep 1
  done
  printf 'rules worker: %s events looked at, %s rules fired, caught up %.1f s after the load ended (to within a second)\n' \
    "$events" "$(metric windowdesk_rules_fired_total)" "$(echo "$(date +%s.%N) - $start - 1" | bc)"
}

# Runs one phase; appends "<label> <closed-loop acked/s> <open-loop p99 ms>" to $work/figures.
phase() {
  local closed open
  closed=$("$bin/windowdesk-loadgen" --url "http://127.0.0.1:$port/webhooks/whatsapp" --requests "$requests" --connections 64 --run-id "$2-max")
  echo "closed loop: $closed"
  open=$("$bin/windowdesk-loadgen" --url "http://127.0.0.1:$port/webhooks/whatsapp" --requests "$((rate * 10))" --connections 64 --rate "$rate" --run-id "$2-rate")
  echo "open loop:   $open"
  drain
  echo "$1 $(field acked_per_s "$closed") $(field p99_ms "$open")" >> "$work/figures"
}
field() { tr ' ' '\n' <<< "$2" | awk -F= -v k="$1" '$1 == k {print $2}'; }

echo "# backend=$backend, $requests requests closed loop, $((rate * 10)) at $rate/s open loop"
# 50 triggers: the loadgen's messages read "Hello, I have a question about order N. When will it arrive?"
create_rules() {
python3 - "$api" "$token" "${BENCH_FIRING:-5}" <<'PY'
import json, sys, urllib.request
api, token, firing = sys.argv[1], sys.argv[2], int(sys.argv[3])
words = ["refund", "invoice", "cancel", "broken", "login", "password", "complaint", "discount", "urgent", "warranty"]
for i in range(50):
    if i >= 40:
        # On the ticket alone: the worker must read the ticket to know these do not match.
        conditions = {"all": [
            {"field": "priority", "op": "is", "values": ["urgent"]},
            {"field": "tags", "op": "include_any", "tags": [f"queue-{i}", "vip"]},
        ]}
        name = f"Escalate #{i}"
    else:
        matching = i < firing * 10 and i % 10 == 0  # BENCH_FIRING rules (default 5) match every generated message
        word = "arrive" if matching else words[i % len(words)]
        name = f"Route {word} #{i}"
        conditions = {
            "all": [
                {"field": "message_text", "op": "contains_any", "words": [word, f"{word}s"]},
                {"field": "status", "op": "is_not", "values": ["solved", "closed"]},
                {"field": "tags", "op": "include_none", "tags": ["vip"]},
            ],
            "any": [
                {"field": "within_business_hours", "value": i % 2 == 0},
                {"field": "within_business_hours", "value": i % 2 == 1},
                {"field": "window_time_left", "op": "less_than", "minutes": 60},
            ],
        }
    rule = {"name": name, "position": i, "event": "message_received", "conditions": conditions,
            "actions": [{"type": "add_tags", "tags": [f"route-{i}"]}]}
    req = urllib.request.Request(f"{api}/rules", data=json.dumps(rule).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {token}", "content-type": "application/json"})
    urllib.request.urlopen(req).read()
print(f"created 50 triggers, {firing} of them matching every message")
PY
}

delete_rules() {
python3 - "$api" "$token" <<'PY'
import json, sys, urllib.request
api, token = sys.argv[1], sys.argv[2]
auth = {"Authorization": f"Bearer {token}", "content-type": "application/json"}
rules = json.load(urllib.request.urlopen(urllib.request.Request(f"{api}/rules", headers=auth)))["data"]
for r in rules:
    urllib.request.urlopen(urllib.request.Request(f"{api}/rules/{r['id']}", method="DELETE", headers=auth)).read()
print(f"deleted {len(rules)} rules")
PY
}

: > "$work/figures"
rounds=${BENCH_ROUNDS:-3}
for round in $(seq "$rounds"); do
  echo "## A$round: no rules"
  phase A "a$round"
  create_rules
  echo "## B$round: 50 triggers"
  phase B "b$round"
  delete_rules
done

# Medians of each kind of phase, and B against A.
echo "## Summary over $rounds rounds (medians)"
python3 - "$work/figures" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
med = lambda kind, col: statistics.median(float(r[col]) for r in rows if r[0] == kind)
a_tp, b_tp, a_p99, b_p99 = med("A", 1), med("B", 1), med("A", 2), med("B", 2)
each = lambda kind, col: ", ".join(r[col] for r in rows if r[0] == kind)
print(f"closed loop acked/s: A {a_tp:,.0f} ({each('A', 1)}), B {b_tp:,.0f} ({each('B', 1)}): B is {100 * (b_tp / a_tp - 1):+.1f}% against A")
print(f"open loop p99 ms:    A {a_p99:.2f} ({each('A', 2)}), B {b_p99:.2f} ({each('B', 2)}): triggers add {b_p99 - a_p99:+.2f} ms")
PY
