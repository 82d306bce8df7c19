#!/usr/bin/env bash
# Fleet benchmark (issue 18), in one run on the shared corpus:
#
#   bench/fleet-rollout.sh [WORKDIR] [SCALE] [HOSTS]      (defaults: /tmp/fixity-bench 0.1 50)
#
# One loopback `fixity serve` and HOSTS agents (`fixity agent`, each its own store and root).
# 1. The corpus release promoted to every host at once: time until every host reports it
#    healthy (the first deploy: every blob travels to every host).
# 2. The next release (mutate-corpus.sh: ~1% of files changed, some removed, 50 added)
#    promoted in one wave of 100%: time from `promote` to every host reporting it healthy;
#    bytes the server sent (its fixity_blob_bytes_out_total) against the bytes of the files
#    that changed (the new blobs) times HOSTS — the target is at most 1.1x: only what changed
#    travels; the server's CPU time and peak RSS during that rollout.
# 3. A file of one host's live tree tampered (its environment says drift = "repair"): time from
#    the write to the server's `host-report` drift entry, and to the repaired one.
# Needs: python3 (for a free port). A single run: the numbers are one rollout each.
source "$(dirname "$0")/lib.sh" "$1" "${2:-0.1}" 1
hosts=${3:-50}
next="$work/corpus-$scale-next"
if [ ! -d "$next" ]; then cp -a "$corpus" "$next" && bash "$shared/bench/mutate-corpus.sh" "$next" >&2; fi
fleet="$work/fleet"
rm -rf "$fleet"; mkdir -p "$fleet"
cd "$fleet"
now() { date +%s%N; }
agents=()
server_pid=
cleanup() {
  for pid in "${agents[@]}"; do kill "$pid" 2>/dev/null; done
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null; true
}
trap cleanup EXIT

# Keys, the policy, the two releases signed by ci.
export FIXITY_STORE="$fleet/client"
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
[environments.bench]
trusted_keys = ["ci"]
threshold = 1
drift = "repair"
POLICY
v1=$("$fixity" seal "$corpus" --app bench --tag 1)
v2=$("$fixity" seal "$next" --app bench --tag 2)
"$fixity" sign "$v1" --key ci.key > /dev/null
"$fixity" sign "$v2" --key ci.key > /dev/null
# The bytes of the files that changed: blobs of v2 that v1 does not have (and v2's manifest,
# which is itself a blob the host lacks).
read changed manifest < <(python3 - "$fixity" "$v1" "$v2" <<'PY'
import json, subprocess, sys
fx, a, b = sys.argv[1:]
def blobs(r):
    m = json.loads(subprocess.run([fx, "show", r, "--json"], capture_output=True, check=True).stdout)
    return {e["digest"]: e.get("size", 0) for e in m["entries"] if e.get("digest")}
old, new = blobs(a), blobs(b)
print(sum(s for d, s in new.items() if d not in old), 0)
PY
)
hex=${v2#sha256:}
manifest=$(stat -c %s "$FIXITY_STORE/objects/sha256/${hex:0:2}/${hex:2}" 2>/dev/null || echo 0)
manifest=${manifest:-0}

"$fixity" server key create --data server --name admin --scope admin > admin.key 2>/dev/null
"$fixity" serve --data server --listen 127.0.0.1:0 --log-level warning > serve.out 2> serve.log &
server_pid=$!
for _ in $(seq 1 200); do grep -q '^listening on ' serve.out 2>/dev/null && break; sleep 0.05; done
export FIXITY_SERVER=$(sed -n 's/^listening on //p' serve.out)
export FIXITY_API_KEY=$(cat admin.key)
"$fixity" policy set policy.toml --sign root.key > /dev/null 2>&1
"$fixity" push "$v1" > /dev/null 2>&1
"$fixity" push "$v2" > /dev/null 2>&1

for i in $(seq -w 1 "$hosts"); do
  FIXITY_STORE="$fleet/h$i.store" "$fixity" host enroll --env bench --name "h$i" --identity "h$i.id" \
    --policy-root "$root" > /dev/null 2>&1
  FIXITY_STORE="$fleet/h$i.store" "$fixity" agent --root "$fleet/h$i.root" --identity "h$i.id" --interval 30s \
    > /dev/null 2> "h$i.log" &
  agents+=($!)
done

# Every host converged and healthy on $1.
converged() {
  "$fixity" host list --env bench --json 2>/dev/null | python3 -c "
import json, sys
hosts = json.load(sys.stdin)
sys.exit(0 if len(hosts) == $hosts and all(h['release'] == '$1' and h['state'] == 'converged' for h in hosts) else 1)"
}
wait_converged() { for _ in $(seq 1 6000); do converged "$1" && return 0; sleep 0.1; done; echo "timeout" >&2; return 1; }
bytes_out() { curl -s "$FIXITY_SERVER/metrics" | awk '/^fixity_blob_bytes_out_total/ && !done {print $2; done = 1}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
tick=$(getconf CLK_TCK)

t0=$(now)
"$fixity" promote "$v1" --env bench > /dev/null 2>&1
wait_converged "$v1"
t1=$(now)
first_ms=$(( (t1 - t0) / 1000000 ))

before=$(bytes_out)
cpu0=$(cpu_ticks)
peak=0
( while kill -0 "$server_pid" 2>/dev/null; do
    awk '/VmRSS/ {print $2}' "/proc/$server_pid/status"; sleep 0.1; done > rss.samples ) &
sampler=$!
t0=$(now)
"$fixity" promote "$v2" --env bench --waves 100% > /dev/null 2>&1
wait_converged "$v2"
t1=$(now)
kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
cpu1=$(cpu_ticks)
after=$(bytes_out)
next_ms=$(( (t1 - t0) / 1000000 ))
sent=$(python3 -c "print(int(float('$after') - float('$before')))")
peak=$(sort -n rss.samples | tail -1)
cpu_s=$(python3 -c "print(round(($cpu1 - $cpu0) / $tick, 2))")

# When each host reported the next release healthy, from the server's ledger, against the
# promote entry: the first, the median and the last (the spread is each host's own deploy).
read first_host median_host last_host < <("$fixity" log export --store server 2>/dev/null | python3 -c "
import json, sys, datetime, statistics
def t(s):
    s = s.rstrip('Z'); whole, _, frac = s.partition('.')
    return datetime.datetime.fromisoformat(whole).replace(tzinfo=datetime.timezone.utc).timestamp() + float('0.' + (frac or '0'))
promoted, done = None, []
for line in sys.stdin:
    e = json.loads(line)['entry']
    if e['action'] == 'promote' and e['subject'] == '$v2' and promoted is None: promoted = t(e['time'])
    if e['action'] == 'host-report' and e['details'].get('event') == 'deployed' and e['details'].get('release') == '$v2':
        done.append(t(e['time']) - promoted)
done.sort()
print(round(done[0], 2), round(statistics.median(done), 2), round(done[-1], 2))")

# Drift on one host: tamper, then find the server's drift and repaired entries for it.
roots=("$fleet"/h*.root)
victim=${roots[0]}
name=$(basename "$victim" .root)
file=$(cd "$victim/current" && find . -type f -name '*.js' -print -quit)
sleep 1
tamper=$(date +%s.%N)
echo "// hot-fix" >> "$victim/current/$file"
sleep 2
read reported healed < <("$fixity" log export --store server 2>/dev/null | python3 -c "
import json, sys, datetime
def t(s):
    s = s.rstrip('Z'); whole, _, frac = s.partition('.')
    return datetime.datetime.fromisoformat(whole).replace(tzinfo=datetime.timezone.utc).timestamp() + float('0.' + (frac or '0'))
drift = repaired = None
for line in sys.stdin:
    e = json.loads(line)['entry']
    if e['action'] != 'host-report' or e['subject'] != '$name' or t(e['time']) < $tamper: continue
    ev = e['details'].get('event')
    if ev == 'drift' and e['details'].get('drift') == 'drifted' and drift is None: drift = t(e['time'])
    if ev == 'repaired' and repaired is None: repaired = t(e['time'])
print(round(((drift or 0) - $tamper) * 1000, 1), round(((repaired or 0) - $tamper) * 1000, 1))")
restored=$(cmp -s "$victim/current/$file" "$next/$file" && echo yes || echo NO)

python3 - <<PY
changed, manifest, sent, hosts = $changed, $manifest, $sent, $hosts
print(f"fleet of {hosts} agents on loopback, corpus scale $scale")
print(f"  first release to every host (every blob travels):   {$first_ms / 1000:.2f} s")
print(f"  next release (~1% of files), one wave of 100%:       {$next_ms / 1000:.2f} s from promote to all healthy")
print(f"    hosts' healthy reports after the promote: first $first_host s, median $median_host s, last $last_host s")
print(f"  bytes the server sent: {sent:,} = {sent / max(1, changed * hosts):.3f}x the changed files' bytes ({changed:,}) x {hosts} hosts (target <= 1.1x);")
print(f"    with the new manifest ({manifest:,} bytes) counted as changed: {sent / max(1, (changed + manifest) * hosts):.3f}x")
print(f"  server during that rollout: {$cpu_s} s of CPU, peak RSS {int('$peak' or 0) / 1024:.0f} MiB")
print(f"  tampered host: drift reported {$reported} ms after the write (target < 1000), repaired at {$healed} ms; file restored: $restored")
PY
