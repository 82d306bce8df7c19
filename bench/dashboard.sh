#!/usr/bin/env bash
# The dashboard's pages, timed server-side, for an environment of HOSTS hosts and a ledger of
# ENTRIES entries (issue 20: each page under 50 ms).
#
#   bash bench/dashboard.sh [WORK] [ENTRIES] [HOSTS] [RUNS]      (defaults: /tmp/fixity-dash-bench 1000000 500 30)
#   REUSE=1 bash bench/dashboard.sh …                             (keep the seeded data folder)
#
# Seeding: a real server (release build) gets a signed policy, a release of 400 files pushed and
# promoted to `production` through the CLI; the ledger is filled through the real append path with
# fleet-shaped entries (hidden `fixity bench-ledger --fleet-hosts`: host reports in turn, API
# requests, promotions); HOSTS hosts and 20 reports each are written into the server's fleet
# tables by tests/../bench/seed-fleet.py (5 drifted, 5 failed, the rest converged). Then each page
# is asked RUNS times with a logged-in session and the server's own access log ("in N µs") gives
# the time from request to response, which is what is reported: median, p90 and max per page.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
work=${1:-/tmp/fixity-dash-bench}
entries=${2:-1000000}
hosts=${3:-500}
runs=${4:-30}
(cd "$repo" && swift build -c release --static-swift-stdlib --product fixity --build-path .build-static >&2)
fixity="$repo/.build-static/release/fixity"
[ -n "${REUSE:-}" ] || rm -rf "$work"
mkdir -p "$work"
cd "$work"
data="$work/server"

start_server() {
  "$fixity" serve --data "$data" --listen 127.0.0.1:0 --log-level info >"$work/serve.out" 2>"$work/serve.log" &
  server_pid=$!
  for _ in $(seq 200); do grep -q '^listening on ' "$work/serve.out" 2>/dev/null && break; sleep 0.05; done
  url=$(sed -n 's/^listening on //p' "$work/serve.out")
}
stop_server() { kill -TERM "$server_pid"; wait "$server_pid" || true; }

if [ ! -e "$work/seeded" ]; then
  "$fixity" key generate --out r1.key >/dev/null 2>&1
  "$fixity" key generate --out ci.key >/dev/null 2>&1
  cat >policy.toml <<POLICY
[root]
keys = ["$("$fixity" key public r1.key)"]
threshold = 1
[keys]
ci = "$("$fixity" key public ci.key)"
[environments.production]
trusted_keys = ["ci"]
threshold = 1
[environments.production.access]
approvals = 1
approvers = ["alice"]
max_ttl = "1h"
POLICY
  mkdir -p app
  for d in $(seq 1 20); do mkdir -p "app/dir-$d"; for f in $(seq 1 20); do echo "file $d/$f" >"app/dir-$d/f-$f.txt"; done; done
  release=$("$fixity" seal app --app web --tag 1.0 --store local)
  "$fixity" sign web@1.0 --key ci.key --store local >/dev/null
  start_server
  admin=$("$fixity" server key create --name bench-admin --scope admin --data "$data" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
  export FIXITY_API_KEY=$admin
  "$fixity" policy set policy.toml --sign r1.key --server "$url" --store local >/dev/null
  "$fixity" push web@1.0 --server "$url" --store local >/dev/null
  "$fixity" promote web@1.0 --env production --server "$url" --store local >/dev/null
  curl -sf -H "Authorization: Bearer $admin" "$url/v1/hosts" >/dev/null   # makes the fleet tables
  stop_server
  echo "$admin" >admin.key
  echo "$release" >release.id
  start=$(date +%s)
  "$fixity" bench-ledger --store "$data" --count "$entries" --batch 10000 --append-only \
    --fleet-hosts "$hosts" --env production --release "$release" >&2
  python3 "$here/seed-fleet.py" "$data/fixity.db" "$hosts" production "$release"
  echo "seeded in $(( $(date +%s) - start )) s" >&2
  touch "$work/seeded"
fi
admin=$(cat admin.key)
release=$(cat release.id)
start_server
trap stop_server EXIT

# A browser's login: the form's token and its cookie, then the key.
jar="$work/cookies"
rm -f "$jar"
token=$(curl -sf -c "$jar" -b "$jar" "$url/dashboard/login" | sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' | head -1)
curl -sf -c "$jar" -b "$jar" -o /dev/null -H "Origin: $url" --data-urlencode "csrf=$token" --data-urlencode "key=$admin" "$url/dashboard/login"

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
pages=(
  "/dashboard"
  "/dashboard/env/production"
  "/dashboard/hosts/host-0042"
  "/dashboard/releases"
  "/dashboard/releases/$release"
  "/dashboard/releases/$release?dir=dir-7"
  "/dashboard/ledger"
  "/dashboard/ledger?before=500000"
  "/dashboard/ledger?kind=promote"
  "/dashboard/ledger?host=host-0042"
  "/dashboard/ledger?env=production&kind=api-request"
  "/dashboard/ledger?release=$release"
  "/dashboard/ledger/$(( entries / 2 ))"
  "/dashboard/state?env=production&at=$now"
  "/dashboard/keys"
  "/dashboard/access"
)
printf '%-58s %8s %8s %8s %8s\n' "page ($hosts hosts, $(( entries ))+ ledger entries)" "bytes" "median" "p90" "max"
for page in "${pages[@]}"; do
  for _ in 1 2 3; do curl -sf -b "$jar" -o /dev/null "$url$page"; done
  before=$(wc -l <"$work/serve.log")
  bytes=0
  for _ in $(seq "$runs"); do bytes=$(curl -sf -b "$jar" -o /dev/null -w '%{size_download}' "$url$page"); done
  sleep 0.2
  tail -n +"$((before + 1))" "$work/serve.log" | grep -o ' 200 from [^ ]* in [0-9]* µs' | awk '{print $5}' \
    | sort -n | awk -v page="$page" -v bytes="$bytes" '{ t[NR] = $1 / 1000 } END {
        if (NR == 0) { printf "%-58s no timings in the log\n", page; exit }
        printf "%-58s %8d %6.1f ms %6.1f ms %6.1f ms\n", substr(page, 1, 58), bytes, t[int((NR + 1) / 2)], t[int(NR * 0.9 + 0.5)], t[NR] }'
done
