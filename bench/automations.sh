#!/usr/bin/env bash
# Automation sweep benchmark (issue 14): one release `windowdesk serve`, BENCH_TICKETS open tickets
# (default 100,000, one per customer, made through the webhook like production traffic) and 20
# active automations; reports how long each sweep over every open ticket takes (the desk's own
# figures on /metrics: the whole sweep, and the part spent reading tickets), and webhook ingest
# latency while sweeps run against the same load without automations.
#
#   bench/automations.sh sqlite|postgres
#
# The 20 automations are of the kinds teams write: nudges on the time since the customer's or the
# agent's last message (some counted in business hours), holding messages near the window's end,
# auto-close of solved tickets, stale pending tickets, tags and priorities. Against this data none is
# due during the run, so phase B measures the sweep itself (a read of every open ticket and the core's
# due time of each automation for each) and ingest while it runs. Phase C then adds a 21st automation
# due on every ticket at once: the sweep that arms 100,000 executions, how fast they run, and ingest
# while they do.
set -euo pipefail
backend=${1:-sqlite}; shift || true
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
port=${BENCH_PORT:-18183}
tickets=${BENCH_TICKETS:-100000}
rate=${BENCH_RATE:-1000}
interval=${BENCH_SWEEP_SECONDS:-10}
[ -n "${BENCH_NO_BUILD:-}" ] || cargo build --release -q -p windowdesk -p windowdesk-loadgen --manifest-path "$root/Cargo.toml"
bin="$root/target/release"

case "$backend" in
  sqlite) url="sqlite://$work/bench.db" ;;
  postgres)
    db="windowdesk_bench_automations_$$"
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
level = "warn,windowdesk_server::rules::automations=debug"
[rules]
seed_defaults = false
sweep_interval_seconds = $interval
[whatsapp]
api_base_url = "http://127.0.0.1:9"
[dispatcher]
max_attempts = 1
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
field() { tr ' ' '\n' <<< "$2" | awk -F= -v k="$1" '$1 == k {print $2}'; }
loadgen() { "$bin/windowdesk-loadgen" --url "http://127.0.0.1:$port/webhooks/whatsapp" "$@"; }

echo "# backend=$backend, $tickets open tickets, 20 automations, a sweep every $interval s"
echo "## filling: $tickets customers write once"
loadgen --requests "$tickets" --contacts "$tickets" --connections 64 --run-id fill
# Every message is a ticket once ingest has committed it.
for _ in $(seq 600); do
  [ "$(metric 'windowdesk_inbound_messages_total{result="new"}')" -ge "$tickets" ] && break; sleep 0.5
done

# Ingest latency without automations (sweeps find none and return at once).
echo "## A: open loop at $rate/s, no automations"
a=$(loadgen --requests "$((rate * 30))" --contacts "$tickets" --connections 64 --rate "$rate" --run-id a)
echo "$a"

python3 - "$api" "$token" <<'PY'
import json, sys, urllib.request
api, token = sys.argv[1], sys.argv[2]
def c(field, **kw): return dict(field=field, **kw)
open_ = c("status", op="is_not", values=["solved", "closed"])
automations = [
  ("Nudge: customer waiting 4 business hours", [open_, c("awaiting_reply", value=True), c("time_since_last_customer_message", op="more_than", minutes=240, business_hours=True)]),
  ("Nudge: customer waiting 1 day", [open_, c("awaiting_reply", value=True), c("time_since_last_customer_message", op="more_than", minutes=1440)]),
  ("Holding message, 30 min before close, team away", [open_, c("window", state="open"), c("window_closes_before_team_is_back", value=True), c("window_time_left", op="less_than", minutes=30)]),
  ("Holding message, 2 h before close", [open_, c("awaiting_reply", value=True), c("window_time_left", op="less_than", minutes=120)]),
  ("Little business time left", [open_, c("business_time_left", op="less_than", minutes=60)]),
  ("Auto-close solved after 4 days", [c("status", op="is", values=["solved"]), c("time_since_solved", op="more_than", minutes=5760)]),
  ("Auto-close solved after 2 business days", [c("status", op="is", values=["solved"]), c("time_since_solved", op="more_than", minutes=960, business_hours=True)]),
  ("Pending for 3 days", [c("status", op="is", values=["pending"]), c("time_since_status_changed", op="more_than", minutes=4320)]),
  ("Follow up 2 days after the agent's answer", [c("status", op="is", values=["pending"]), c("time_since_last_agent_reply", op="more_than", minutes=2880)]),
  ("Escalate urgent after 30 min", [c("priority", op="is", values=["urgent"]), c("time_since_created", op="more_than", minutes=30)]),
  ("Escalate high after 2 h", [c("priority", op="is", values=["high"]), c("time_since_created", op="more_than", minutes=120)]),
  ("VIP waiting 15 min", [c("tags", op="include_any", tags=["vip"]), c("time_since_last_customer_message", op="more_than", minutes=15)]),
  ("Unassigned for 8 business hours", [open_, c("assignee", op="unassigned"), c("time_since_created", op="more_than", minutes=480, business_hours=True)]),
  ("Window closed, still open ticket", [open_, c("window", state="closed"), c("time_since_last_customer_message", op="more_than", minutes=2880)]),
  ("On hold for a week", [c("status", op="is", values=["on_hold"]), c("time_since_status_changed", op="more_than", minutes=10080)]),
  ("Within hours, waiting 2 h", [open_, c("within_business_hours", value=True), c("time_since_last_customer_message", op="more_than", minutes=120)]),
  ("Outside hours, waiting 12 h", [open_, c("within_business_hours", value=False), c("time_since_last_customer_message", op="more_than", minutes=720)]),
  ("Returning customers, 6 h", [c("tags", op="include_all", tags=["returning", "priority"]), c("time_since_last_customer_message", op="more_than", minutes=360)]),
  ("New for 3 days", [c("status", op="is", values=["new"]), c("time_since_created", op="more_than", minutes=4320)]),
  ("Open for 30 days", [open_, c("time_since_created", op="more_than", minutes=43200)]),
]
for i, (name, conditions) in enumerate(automations):
    rule = {"name": name, "position": 100 + i, "event": "automation", "conditions": {"all": conditions},
            "actions": [{"type": "add_tags", "tags": [f"auto-{i}"]}]}
    req = urllib.request.Request(f"{api}/rules", data=json.dumps(rule).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {token}", "content-type": "application/json"})
    urllib.request.urlopen(req).read()
print(f"created {len(automations)} automations")
PY

sweeps_before=$(metric windowdesk_automation_sweeps_total)
sleep "$((interval * 2))"
echo "## B: open loop at $rate/s while sweeps run (none of the 20 is due: every sweep reads and evaluates, writes nothing)"
b=$(loadgen --requests "$((rate * 30))" --contacts "$tickets" --connections 64 --rate "$rate" --run-id b)
echo "$b"
echo "sweeps: $(( $(metric windowdesk_automation_sweeps_total) - sweeps_before )) with 20 automations;" \
  "last: $(metric windowdesk_automation_sweep_last_ms) ms, of which reading tickets $(metric windowdesk_automation_sweep_last_read_ms) ms," \
  "$(metric windowdesk_automation_sweep_last_tickets) tickets"
grep -o 'automation sweep.*' "$work/serve.log" | sed 's/\x1b\[[0-9;]*m//g' | tail -n 4 || true

echo "## C: a 21st automation due on every ticket at once (tag tickets older than a minute)"
python3 - "$api" "$token" <<'PY'
import json, sys, urllib.request
api, token = sys.argv[1], sys.argv[2]
rule = {"name": "Tag tickets older than a minute", "event": "automation",
        "conditions": {"all": [{"field": "status", "op": "is_not", "values": ["solved", "closed"]},
                               {"field": "time_since_created", "op": "more_than", "minutes": 1}]},
        "actions": [{"type": "add_tags", "tags": ["older"]}]}
urllib.request.urlopen(urllib.request.Request(f"{api}/rules", data=json.dumps(rule).encode(), method="POST",
                       headers={"Authorization": f"Bearer {token}", "content-type": "application/json"})).read()
PY
fired_before=$(metric 'windowdesk_automation_runs_total{result="fired"}')
start=$(date +%s)
c=$(loadgen --requests "$((rate * 30))" --contacts "$tickets" --connections 64 --rate "$rate" --run-id c)
echo "open loop while the executions run: $c"
fired=$(( $(metric 'windowdesk_automation_runs_total{result="fired"}') - fired_before ))
echo "executions fired in $(( $(date +%s) - start )) s: $fired"
grep -o 'automation sweep.*armed.*' "$work/serve.log" | sed 's/\x1b\[[0-9;]*m//g' | tail -n 2 || true

echo "## Summary"
echo "ingest open loop p99: A (no automations) $(field p99_ms "$a") ms, B (sweeps of 20 automations over $tickets tickets) $(field p99_ms "$b") ms, C (while $fired executions ran) $(field p99_ms "$c") ms"
