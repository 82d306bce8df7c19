#!/usr/bin/env bash
# Deploy benchmark: Fixity against its peers on the shared corpus, in one run.
#
#   bench/deploy-vs-peers.sh [WORKDIR] [SCALE] [RUNS]
#
# Seals the corpus (and commits it to an ostree bare repo), then times with hyperfine (median
# of RUNS, default 5), each run into a fresh root, page cache warm, `sync; sleep 2` before each:
#   fixity deploy --link copy       vs  cp -a + sync          (both durable before "done";
#   fixity deploy --link hardlink   vs  ostree checkout -H      fixity also verifies every byte)
# The hardlink runs find the store's link sources made by an untimed first hardlink deploy (as
# ostree's bare objects already carry modes); that first deploy is timed once on its own. Their
# previous root is moved aside, not `rm -rf`'d: unlinking by hand moves the sources' ctime and
# voids their verified stamps (docs/design.md), which Fixity's own retention renews but rm cannot;
# ostree's previous checkout is moved aside too, so neither allocates among just-freed inodes.
# and the switch itself (1,000 renames of ROOT/current, p50/p99) and a whole `fixity rollback`
# process to a materialized deployment (median of 20).
# Needs: hyperfine, ostree (apt-get install hyperfine ostree).
source "$(dirname "$0")/lib.sh" "$@"
store="$work/deploy-store"
rm -rf "$store" "$work/ostree-deploy"
release=$("$fixity" seal "$corpus" --app bench --store "$store")
ostree --repo="$work/ostree-deploy" init --mode=bare
ostree --repo="$work/ostree-deploy" commit --branch=bench --tree=dir="$corpus" > /dev/null
tar -C "$corpus" -cf - . > /dev/null
for t in "$store/objects" "$work/ostree-deploy/objects"; do tar -C "$t" -cf - . > /dev/null; done

rm -rf "$work/droot" "$work/sroot"
sync
first_hardlink=$( { /usr/bin/time -f "%e" "$fixity" deploy "$release" --root "$work/droot" --store "$store" --link hardlink > /dev/null; } 2>&1 | tail -1)
rm -rf "$work/droot"
json="$work/deploy-$scale.json"
hyperfine --style basic --runs "$runs" --export-json "$json" \
  --prepare "chattr -R -i '$work/droot' 2>/dev/null; rm -rf '$work/droot'; sync; sleep 2" \
  -n "fixity deploy --link copy" "'$fixity' deploy '$release' --root '$work/droot' --store '$store' --link copy" \
  --prepare "rm -rf '$work/cpout'; sync; sleep 2" \
  -n "cp -a + sync" "cp -a '$corpus' '$work/cpout' && sync" \
  --prepare "mkdir -p '$work/aside' && mv '$work/droot' '$work/aside/'\$(date +%s%N) 2>/dev/null; sync; sleep 2" \
  -n "fixity deploy --link hardlink" "'$fixity' deploy '$release' --root '$work/droot' --store '$store' --link hardlink" \
  --prepare "mkdir -p '$work/aside' && mv '$work/ostout' '$work/aside/o'\$(date +%s%N) 2>/dev/null; sync; sleep 2" \
  -n "ostree checkout -H" "ostree --repo='$work/ostree-deploy' checkout -H bench '$work/ostout'" >&2

# Switch and rollback: two materialized deployments of the same root.
rm -rf "$work/sroot"
mkdir -p "$work/small"
echo one > "$work/small/v"
one=$("$fixity" seal "$work/small" --app small --store "$store")
echo two > "$work/small/v"
two=$("$fixity" seal "$work/small" --app small --store "$store")
"$fixity" deploy "$one" --root "$work/sroot" --store "$store" > /dev/null
"$fixity" deploy "$two" --root "$work/sroot" --store "$store" > /dev/null
switch=$("$fixity" bench-switch --root "$work/sroot" --store "$store" --count 1000)
rbjson="$work/rollback.json"
hyperfine --style basic --runs 20 --export-json "$rbjson" \
  --prepare "'$fixity' rollback --root '$work/sroot' --store '$store' --to '$two' > /dev/null" \
  -n "fixity rollback (materialized)" "'$fixity' rollback --root '$work/sroot' --store '$store' --to '$one'" >&2

python3 - "$json" "$rbjson" "$switch" "$first_hardlink" <<'PY'
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
rb = json.load(open(sys.argv[2]))["results"][0]["median"]
print(f"{'deploy of the corpus':<32}{'median s':>10}{'ratio':>8}")
for name in r:
    print(f"{name:<32}{r[name]:>10.2f}")
print(f"copy: fixity / (cp -a + sync)      {r['fixity deploy --link copy'] / r['cp -a + sync']:.2f}")
print(f"hardlink: fixity / ostree -H       {r['fixity deploy --link hardlink'] / r['ostree checkout -H']:.2f}")
print(f"first hardlink deploy (creates the link sources, one run): {sys.argv[4]} s")
print(f"switch: {sys.argv[3]}")
print(f"fixity rollback process, median of 20: {rb * 1000:.1f} ms")
PY
