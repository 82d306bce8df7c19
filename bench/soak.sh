#!/usr/bin/env bash
# Soak (issue 29, item 17): does a long-running server and its agents hold flat memory under
# continuous work?
#
#   bench/soak.sh [WORKDIR] [MINUTES] [AGENTS]      (defaults: /tmp/fixity-soak 25 5)
#
# One loopback `fixity serve` and AGENTS agents (2 s interval, drift = "repair"). For MINUTES:
# a promotion every 3 s alternating two releases (every host deploys each one), and a file of
# one host's live tree tampered every 3 s (repaired at once). RSS of the server and of every
# agent is sampled every 10 s. At the end: every host on the last release with a clean tree
# (`fixity verify`), the server's ledger verified, and per process: RSS after the warm-up
# (the first fifth), at the end, and the slope (KiB a minute, least squares over the samples
# after the warm-up) with KiB per deploy cycle. Flat memory is a slope near zero.
# FIXITY_BIN=path uses that binary instead of building the release one (bench/lib.sh);
# SERVER_WRAP / AGENT_WRAP run the server / the first agent under a profiler (e.g. "heaptrack -o F").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
work=${1:-/tmp/fixity-soak}
minutes=${2:-25}
hosts=${3:-5}
if [ -n "${FIXITY_BIN:-}" ]; then
  fixity=$FIXITY_BIN
else
  (cd "$repo" && swift build -c release --static-swift-stdlib --product fixity --build-path .build-static >&2)
  fixity="$repo/.build-static/release/fixity"
fi
rm -rf "$work"; mkdir -p "$work"; work=$(cd "$work" && pwd)
cd "$work"
agents=()
server_pid=
cleanup() {
  for pid in "${agents[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

export FIXITY_STORE="$work/client"
"$fixity" key generate --out root.key > /dev/null 2>&1
"$fixity" key generate --out ci.key > /dev/null 2>&1
root=$("$fixity" key public root.key 2>/dev/null)
ci=$("$fixity" key public ci.key 2>/dev/null)
cat > policy.toml <<POLICY
[root]
keys = ["$root"]
threshold = 1
[keys]
ci = "$ci"
[environments.soak]
trusted_keys = ["ci"]
threshold = 1
drift = "repair"
POLICY
# Two small releases (50 files in 5 folders each), told apart by one file.
for v in a b; do
  mkdir -p "tree-$v"
  for d in 1 2 3 4 5; do
    mkdir -p "tree-$v/dir$d"
    for f in $(seq 1 10); do head -c $((1000 * f)) /dev/urandom | base64 > "tree-$v/dir$d/file$f.txt"; done
  done
  echo "$v" > "tree-$v/version.txt"
done
cp -a tree-a/dir1 tree-b/ 2>/dev/null || true
va=$("$fixity" seal tree-a --app soak --tag a)
vb=$("$fixity" seal tree-b --app soak --tag b)
"$fixity" sign "$va" --key ci.key > /dev/null
"$fixity" sign "$vb" --key ci.key > /dev/null

"$fixity" server key create --data server --name admin --scope admin --expires 30d > admin.key 2>/dev/null
${SERVER_WRAP:-} "$fixity" serve --data server --listen 127.0.0.1:0 --log-level warning > serve.out 2> serve.log &
server_pid=$!
for _ in $(seq 1 200); do grep -q '^listening on ' serve.out 2>/dev/null && break; sleep 0.05; done
export FIXITY_SERVER=$(sed -n 's/^listening on //p' serve.out)
export FIXITY_API_KEY=$(cat admin.key)
"$fixity" policy set policy.toml --sign root.key > /dev/null 2>&1
"$fixity" push "$va" > /dev/null 2>&1
"$fixity" push "$vb" > /dev/null 2>&1
"$fixity" promote "$va" --env soak > /dev/null 2>&1
for i in $(seq 1 "$hosts"); do
  FIXITY_STORE="$work/h$i.store" "$fixity" host enroll --env soak --name "h$i" --identity "h$i.id" \
    --policy-root "$root" > /dev/null 2>&1
  wrap=""; [ "$i" = 1 ] && wrap=${AGENT_WRAP:-}
  FIXITY_STORE="$work/h$i.store" $wrap "$fixity" agent --root "$work/h$i.root" --identity "h$i.id" --interval 2s \
    > /dev/null 2> "h$i.log" &
  agents+=($!)
done

rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
start=$(date +%s)
end=$((start + minutes * 60))
next_sample=$start
promotions=0
tampers=0
release=$va
: > rss.samples
while [ "$(date +%s)" -lt "$end" ]; do
  now=$(date +%s)
  if [ "$now" -ge "$next_sample" ]; then
    line="$((now - start)) $(rss "$server_pid")"
    for pid in "${agents[@]}"; do line="$line $(rss "$pid")"; done
    echo "$line" >> rss.samples
    next_sample=$((now + 10))
  fi
  if [ "$release" = "$va" ]; then release=$vb; else release=$va; fi
  "$fixity" promote "$release" --env soak > /dev/null 2>&1 && promotions=$((promotions + 1))
  victim=$(( (tampers % hosts) + 1 ))
  if [ -e "$work/h$victim.root/current/version.txt" ]; then
    echo "hot-fix $tampers" >> "$work/h$victim.root/current/version.txt" 2>/dev/null && tampers=$((tampers + 1))
  else
    tampers=$((tampers + 1))
  fi
  sleep 3
done

# Settle: every host on the last release with a clean tree, the ledger whole.
for _ in $(seq 1 600); do
  ok=$("$fixity" host list --env soak --json 2>/dev/null | python3 -c "
import json, sys
hosts = json.load(sys.stdin)
print(1 if len(hosts) == $hosts and all(h['release'] == '$release' and h['state'] == 'converged' for h in hosts) else 0)")
  [ "$ok" = 1 ] && break
  sleep 0.5
done
clean=0
for i in $(seq 1 "$hosts"); do
  FIXITY_STORE="$work/h$i.store" "$fixity" verify --root "$work/h$i.root" > /dev/null 2>&1 && clean=$((clean + 1))
done
"$fixity" log verify --server "$FIXITY_SERVER" > /dev/null 2>&1 && ledger=verified || ledger=FAILED
deploys=$("$fixity" log export --store server 2>/dev/null | grep -c '"event":"deployed"' || true)

python3 - "$minutes" "$hosts" "$promotions" "$tampers" "$deploys" "$clean" "$ledger" "$ok" <<'PY'
import sys, statistics
minutes, hosts, promotions, tampers, deploys, clean, ledger, ok = sys.argv[1:]
rows = [list(map(int, l.split())) for l in open("rss.samples") if l.strip()]
warm = [r for r in rows if r[0] >= int(minutes) * 60 / 5] or rows
def slope(xs, ys):
    mx, my = statistics.mean(xs), statistics.mean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0
names = ["server"] + [f"h{i}" for i in range(1, int(hosts) + 1)]
cycles = max(1, int(promotions))
print(f"soak: {minutes} min, {hosts} agents, {promotions} promotions, {tampers} tampers, {deploys} deploys reported")
print(f"end: all on the last release {'yes' if ok == '1' else 'NO'}; clean trees {clean}/{hosts}; ledger {ledger}")
print(f"{'process':8} {'RSS after warm-up':>18} {'RSS at end':>11} {'KiB/min':>8} {'KiB/cycle':>9}")
for i, name in enumerate(names):
    xs = [r[0] / 60 for r in warm]
    ys = [r[i + 1] for r in warm]
    s = slope(xs, ys)
    per_cycle = s * int(minutes) / cycles
    print(f"{name:8} {ys[0] / 1024:>15.1f} MB {ys[-1] / 1024:>8.1f} MB {s:>8.1f} {per_cycle:>9.2f}")
PY
