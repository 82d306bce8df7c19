#!/usr/bin/env bash
# Property-based requests against docs/api.yaml on a live `fixity serve` (embedded store), with an
# admin key, bounded in time and examples: every answer must match the documented status codes
# and schemas, no 5xx, no undocumented route or status. Prints what it tried.
#   tests/api/schemathesis.sh [FIXITY_BINARY] [MAX_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-.build/debug/fixity}
max_time=${2:-120}
command -v schemathesis >/dev/null || python3 -m pip install -q schemathesis 2>/dev/null \
  || python3 -m pip install -q --break-system-packages schemathesis
work=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

# A server with something to find: a release, a tag, a signed policy.
key=$("$bin" server key create --data "$work/data" --name schemathesis --scope admin 2>/dev/null)
"$bin" serve --data "$work/data" --listen 127.0.0.1:0 --log-level warning > "$work/out" 2> "$work/log" &
server=$!
for _ in $(seq 1 200); do grep -q '^listening on ' "$work/out" 2>/dev/null && break; sleep 0.05; done
url=$(sed -n 's/^listening on //p' "$work/out")
[ -n "$url" ] || { cat "$work/log"; echo "schemathesis: the server did not start" >&2; exit 2; }
mkdir -p "$work/app" && echo hello > "$work/app/index.html"
"$bin" seal "$work/app" --app web --tag 1.0 --store "$work/client" >/dev/null 2>&1
FIXITY_API_KEY=$key "$bin" push web@1.0 --server "$url" --store "$work/client" >/dev/null

# The throttle answers 429 to an address that keeps failing authentication, as documented;
# schemathesis sends the key on every request, so it is never throttled.
# (set +e: a failing run must still reach the lines below that print its failures in full.)
set +e
schemathesis --config-file tests/api/schemathesis.toml run "$url/openapi.yaml" \
  --header "Authorization: Bearer $key" \
  --checks all \
  --max-examples 25 \
  --max-time "$max_time" \
  --request-timeout 10 \
  --seed 17 \
  --report junit --report-dir "$work/report" \
  2>&1 | tee "${SCHEMATHESIS_OUT:-$work/schemathesis.txt}" | tail -40
status=${PIPESTATUS[0]}
set -e
# The failures in full (the tail above may cut them), for the CI log.
sed -n '/== FAILURES ==/,/== WARNINGS ==/p' "${SCHEMATHESIS_OUT:-$work/schemathesis.txt}" | cut -c1-400 | head -80
grep -E "^(Operations|Test cases|Tested|API Operations|Test Phases|Summary)" -A6 "${SCHEMATHESIS_OUT:-$work/schemathesis.txt}" | head -30 || true
if grep -q "internal error" "$work/log"; then
  echo "schemathesis: the server logged internal errors:" >&2
  grep "internal error" "$work/log" | head -20 >&2
  status=1
fi
exit "$status"
