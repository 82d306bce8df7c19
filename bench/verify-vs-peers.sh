#!/usr/bin/env bash
# Drift benchmark: fixity verify and watch against their peers on the corpus deployment.
#
#   bench/verify-vs-peers.sh [WORKDIR] [SCALE] [RUNS]
#
# Deploys the corpus (--link copy) and times, page cache warm, hyperfine medians of RUNS:
#   fixity verify (fast, clean tree)   vs  git status on the same tree committed into git
#   fixity verify --full               vs  sha256sum -c split over two processes, aide --check
# and watch latency: a write into the live tree to the JSON drift line, median of 20.
# Needs: hyperfine, git, aide, python3 (apt-get install hyperfine git aide).
source "$(dirname "$0")/lib.sh" "$@"
store="$work/verify-store"
root="$work/vroot"
rm -rf "$store" "$root" "$work/vgit" "$work/aide"
release=$("$fixity" seal "$corpus" --app bench --store "$store")
"$fixity" deploy "$release" --root "$root" --store "$store" --link copy > /dev/null
tree="$root/$(readlink "$root/current")"

# Peers' setup: git repo of the same tree; sha256sum lists in two halves; an aide database.
# gc.auto=0: a commit of 20,000 loose objects otherwise starts `git gc --auto` in the
# background, which then competes for the cores during every measurement below.
cp -a "$tree" "$work/vgit"
git -C "$work/vgit" init -q && git -C "$work/vgit" add -A && git -C "$work/vgit" -c user.name=b -c user.email=b@b -c gc.auto=0 commit -qm v1
(cd "$tree" && find . -type f -print0 | sort -z | xargs -0 sha256sum > "$work/sums")
total=$(wc -l < "$work/sums")
head -n $((total / 2)) "$work/sums" > "$work/sums.1"
tail -n +$((total / 2 + 1)) "$work/sums" > "$work/sums.2"
mkdir -p "$work/aide"
cat > "$work/aide/aide.conf" <<CONF
database_in=file:$work/aide/aide.db
database_out=file:$work/aide/aide.db.new
gzip_dbout=no
log_level=error
report_level=changed_attributes
FIX = p+i+n+u+g+s+m+c+sha256
$tree FIX
CONF
aide --config "$work/aide/aide.conf" --init > /dev/null 2>&1 || true
mv "$work/aide/aide.db.new" "$work/aide/aide.db"
tar -C "$tree" -cf - . > /dev/null

json="$work/verify-$scale.json"
hyperfine --style basic --runs "$runs" --warmup 1 --export-json "$json" \
  -n "fixity verify (fast)" "'$fixity' verify --root '$root' --store '$store'" \
  -n "git status" "git -C '$work/vgit' status --porcelain > /dev/null" \
  -n "fixity verify --full" "'$fixity' verify --full --root '$root' --store '$store'" \
  -n "sha256sum -c (2 processes)" "cd '$tree' && { sha256sum -c --quiet '$work/sums.1' & sha256sum -c --quiet '$work/sums.2'; wait; }" \
  -n "aide --check" "aide --config '$work/aide/aide.conf' --check > /dev/null" >&2

# Watch latency: write into the live tree, read the drift line; restore, read the clean line.
latency=$(python3 - "$fixity" "$root" "$store" "$tree" <<'PY'
import json, statistics, subprocess, sys, time
fixity, root, store, tree = sys.argv[1:5]
watch = subprocess.Popen([fixity, "watch", "--root", root, "--store", store], stdout=subprocess.PIPE, text=True)
def next_line():
    return json.loads(watch.stdout.readline())
assert next_line()["event"] == "clean"
target = f"{tree}/fixity-latency-probe"
samples = []
for i in range(20):
    start = time.monotonic()
    with open(target, "w") as f:
        f.write(f"write {i}\n")
    line = next_line()
    samples.append(time.monotonic() - start)
    assert line["event"] == "drift", line
    import os
    os.unlink(target)
    assert next_line()["event"] == "clean"
watch.terminate()
watch.wait()
print(f"{statistics.median(samples) * 1000:.1f} ms median, {max(samples) * 1000:.1f} ms max over {len(samples)} writes")
PY
)

python3 - "$json" "$latency" "$(wc -l < "$work/sums")" <<'PY'
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
print(f"{'command':<30}{'median s':>10}")
for name, t in r.items():
    print(f"{name:<30}{t:>10.3f}")
print(f"fast verify / git status:            {r['fixity verify (fast)'] / r['git status']:.2f}  (target <= 0.5, issue 14)")
print(f"full verify / sha256sum -c (2 proc): {r['fixity verify --full'] / r['sha256sum -c (2 processes)']:.2f}  (target <= 0.3)")
print(f"full verify / aide --check:          {r['fixity verify --full'] / r['aide --check']:.2f}  (target <= 0.1)")
print(f"watch latency, write to drift line:  {sys.argv[2]}  (target < 100 ms median)")
print(f"files: {sys.argv[3]}")
PY
