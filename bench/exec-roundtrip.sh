#!/usr/bin/env bash
# Access-window benchmark (issue 19): the round trip of `fixity exec -- true` to a loopback host.
#
#   bench/exec-roundtrip.sh [WORKDIR] [RUNS]        (defaults: /tmp/fixity-bench 100)
#
# One loopback `fixity serve`, one host's `fixity agent` with the default poll (30 s: the agent
# must hear of a command at once, not at its next poll), a window asked for and approved by two
# others. Then, interleaved in one run, RUNS times each:
#   exec     `fixity exec --env bench --host h1 -- true`: POST the command, the agent's held poll
#            woken, the command judged by the host's policy, claimed, run, its result signed and
#            sent, the caller's held read woken — and `fixity`'s own start and exit;
#   start    `fixity --version`: the floor of any `fixity` command (process start);
#   http     `curl /healthz`: one loopback HTTP round trip to the same server.
# Prints each one's median and p90 and exec's ratio to the others. Target: exec median < 100 ms.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "${1:-/tmp/fixity-bench}" 0.01 1
runs=${2:-100}
dir="$work/exec"
rm -rf "$dir"; mkdir -p "$dir"; cd "$dir"
agent_pid=; server_pid=
cleanup() {
  [ -n "$agent_pid" ] && kill -9 "$agent_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null; true
}
trap cleanup EXIT
export FIXITY_STORE="$dir/client"
"$fixity" key generate --out root.key > /dev/null 2>&1
root=$("$fixity" key public root.key 2>/dev/null)
cat > policy.toml <<POLICY
[root]
keys = ["$root"]
threshold = 1
[environments.bench]
[environments.bench.access]
approvals = 2
approvers = ["alice", "bob"]
max_ttl = "1h"
POLICY
mkdir app && echo v1 > app/index.html
v1=$("$fixity" seal app --app bench --tag 1)
"$fixity" server key create --data server --name admin --scope admin > admin.key 2>/dev/null
"$fixity" server key create --data server --name dave --scope access:request:bench > dave.key 2>/dev/null
for who in alice bob; do
  "$fixity" server key create --data server --name $who --scope access:approve:bench > $who.key 2>/dev/null
done
"$fixity" serve --data server --listen 127.0.0.1:0 --log-level warning > serve.out 2> serve.log &
server_pid=$!
for _ in $(seq 1 200); do grep -q '^listening on ' serve.out 2>/dev/null && break; sleep 0.05; done
export FIXITY_SERVER=$(sed -n 's/^listening on //p' serve.out)
FIXITY_API_KEY=$(cat admin.key) "$fixity" policy set policy.toml --sign root.key > /dev/null 2>&1
FIXITY_API_KEY=$(cat admin.key) "$fixity" push "$v1" > /dev/null 2>&1
FIXITY_STORE="$dir/h1.store" FIXITY_API_KEY=$(cat admin.key) "$fixity" host enroll --env bench --name h1 \
  --identity h1.id --policy-root "$root" > /dev/null 2>&1
FIXITY_STORE="$dir/h1.store" "$fixity" agent --root "$dir/h1.root" --identity h1.id > agent.log 2>&1 &
agent_pid=$!
FIXITY_API_KEY=$(cat admin.key) "$fixity" promote "$v1" --env bench > /dev/null 2>&1
for _ in $(seq 1 200); do [ -f "$dir/h1.root/current/index.html" ] && break; sleep 0.05; done
id=$(FIXITY_API_KEY=$(cat dave.key) "$fixity" access request --env bench --host h1 --reason bench --ttl 1h 2>/dev/null)
FIXITY_API_KEY=$(cat alice.key) "$fixity" access approve "$id" > /dev/null 2>&1
FIXITY_API_KEY=$(cat bob.key) "$fixity" access approve "$id" > /dev/null 2>&1
export FIXITY_API_KEY=$(cat dave.key)
"$fixity" exec --env bench --host h1 -- true 2>/dev/null   # warm: the agent's first command
now() { date +%s%N; }
: > times.tsv
for i in $(seq 1 "$runs"); do
  t0=$(now); "$fixity" exec --env bench --host h1 -- true 2>/dev/null; t1=$(now)
  echo -e "exec\t$(( (t1 - t0) / 1000 ))" >> times.tsv
  t0=$(now); "$fixity" --version > /dev/null; t1=$(now)
  echo -e "start\t$(( (t1 - t0) / 1000 ))" >> times.tsv
  t0=$(now); curl -s -o /dev/null "$FIXITY_SERVER/healthz"; t1=$(now)
  echo -e "http\t$(( (t1 - t0) / 1000 ))" >> times.tsv
done
python3 - times.tsv <<'PY'
import statistics, sys
rows = [line.split("\t") for line in open(sys.argv[1]).read().split("\n") if line]
by = {}
for name, micros in rows: by.setdefault(name, []).append(int(micros) / 1000)
def p90(v): return sorted(v)[int(len(v) * 0.9) - 1]
for name in ["exec", "start", "http"]:
    v = by[name]
    print(f"{name:6} runs {len(v):4}  median {statistics.median(v):7.1f} ms  p90 {p90(v):7.1f} ms")
e = statistics.median(by["exec"])
print(f"exec / start: {e / statistics.median(by['start']):.1f}x   exec / http: {e / statistics.median(by['http']):.1f}x")
print(f"exec median under 100 ms: {'yes' if e < 100 else 'NO'}")
PY
