#!/usr/bin/env bash
# The README's first command, run exactly as a newcomer would: the first `cargo run` line of the
# README's first code block, copied verbatim, from the checkout's root. It must print the desk's URL and
# an API token; then /healthz, the sign-in page and one API call with the printed token must answer.
# A README whose first command fails turns this script, and CI, red.
#
#   scripts/smoke-readme.sh            (called by scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

command=$(awk '/^```/{n++; next} n==1 && /^cargo run/{print; exit}' README.md)
command=${command%%#*}
if [ -z "$command" ]; then
  echo "smoke: the README's first code block has no \`cargo run\` line" >&2; exit 1
fi
echo "smoke: running the README's command verbatim: $command"

out=$(mktemp -d)
: >"$out/stdout"; : >"$out/stderr"
# A process group of its own, so stopping it stops cargo and the desk it runs.
setsid bash -c "$command" >"$out/stdout" 2>"$out/stderr" &
pid=$!
stop() {
  kill -INT -- "-$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL -- "-$pid" 2>/dev/null || true
}
fail() {
  echo "smoke: $*" >&2
  echo "---- stdout" >&2; cat "$out/stdout" >&2
  echo "---- stderr (last 40 lines)" >&2; tail -n 40 "$out/stderr" >&2
  stop; exit 1
}
trap stop EXIT

# A cold release build on two cores takes minutes; the desk prints its URL once it is seeded.
deadline=$((SECONDS + ${SMOKE_TIMEOUT_SECONDS:-1800}))
until grep -q '^  API token:' "$out/stdout"; do
  kill -0 "$pid" 2>/dev/null || fail "the command exited before printing the desk's URL"
  [ $SECONDS -lt $deadline ] || fail "no URL printed within the time limit"
  sleep 1
done
url=$(sed -n 's/^  Desk: *\(http[^ ]*\).*/\1/p' "$out/stdout" | head -n1)
token=$(sed -n 's/^  API token: *\([^ ]*\).*/\1/p' "$out/stdout" | head -n1)
[ -n "$url" ] || fail "the output has no 'Desk:' URL"
[ -n "$token" ] || fail "the output has no API token"
echo "smoke: the desk is at $url"

health=$(curl -fsS "$url/healthz") || fail "GET /healthz failed"
echo "smoke: /healthz: $health"
curl -fsS "$url/login" | grep -q '<form' || fail "GET /login is not a sign-in page"
echo "smoke: /login shows the sign-in form"
tickets=$(curl -fsS -H "Authorization: Bearer $token" "$url/api/v1/tickets") || fail "GET /api/v1/tickets with the printed token failed"
echo "$tickets" | grep -q '"data":\[{' || fail "GET /api/v1/tickets lists no seeded ticket: $tickets"
echo "smoke: GET /api/v1/tickets with the printed token lists the seeded tickets"
# The README's webhook examples, pasted as they are, against the demo.
examples=$(awk '/^### Try the webhook with curl/{f=1} f && /^```sh/{c=1; next} c && /^```/{exit} c' README.md)
[ -n "$examples" ] || fail "the README has no webhook curl examples"
bash -euo pipefail -c "$examples" >"$out/webhook" 2>&1 || { cat "$out/webhook" >&2; fail "the README's webhook curl examples failed"; }
grep -q '1158201444' "$out/webhook" || fail "the README's verification handshake did not answer the challenge"
grep -q '"status":"received"' "$out/webhook" || { cat "$out/webhook" >&2; fail "the README's signed webhook was not received"; }
echo "smoke: the README's webhook curl examples work against the demo"
# The hint the demo prints for writing as a customer, run as printed.
say=$(sed -n 's/^ *or: \(cargo run .*\)$/\1/p' "$out/stdout" | head -n1)
[ -n "$say" ] || fail "the demo printed no 'cargo run … sim say' hint"
bash -c "$say" >"$out/say" 2>&1 || { cat "$out/say" >&2; fail "the demo's hint failed: $say"; }
echo "smoke: the demo's hint works: $say"
echo "smoke: ok"
