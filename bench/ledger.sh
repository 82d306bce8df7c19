#!/usr/bin/env bash
# Ledger benchmark: appends, `log verify` and inclusion proofs at a million entries, in one run.
#
#   bench/ledger.sh [WORKDIR] [ENTRIES] [RUNS]
#
# Fills a scratch store's ledger with ENTRIES (default 1,000,000) synthetic entries through the
# real append path (hidden `fixity bench-ledger`: entry row, leaf and completed subtrees in the
# same transaction), then times with hyperfine (median of RUNS, default 3):
#   fixity log verify                 every leaf and subtree recomputed and compared
#   fixity log prove SEQ --json       a whole process: open the store, build and print a proof
#   python3 scan                      the peer: read every row and SHA-256 it, nothing else
# and in-process (bench-ledger): appends/s batched and one durable transaction per entry, and
# inclusion proof + root + check p50/p99 over 1,000 random entries.
# Needs: hyperfine (apt-get install hyperfine).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
work=${1:-/tmp/fixity-bench}
entries=${2:-1000000}
runs=${3:-3}
mkdir -p "$work"
work=$(cd "$work" && pwd)
# The shipped build (see lib.sh).
(cd "$repo" && swift build -c release --static-swift-stdlib --product fixity --build-path .build-static >&2)
fixity="$repo/.build-static/release/fixity"
store="$work/ledger-store"
single="$work/ledger-store-single"
# REUSE=1 keeps a store filled by an earlier run (the fill takes about a minute per million).
if [ "${REUSE:-0}" != 1 ] || [ ! -f "$store/fixity.db" ]; then
  rm -rf "$store" "$single"
  echo "== appends, 10,000 per transaction"
  "$fixity" bench-ledger --store "$store" --count "$entries" --batch 10000 --append-only
  echo "== appends, one durable transaction each (as one command records one change)"
  "$fixity" bench-ledger --store "$single" --count 2000 --batch 1 --append-only
fi
echo "== in-process verify and proofs at $entries entries"
"$fixity" bench-ledger --store "$store" --count 0 --proofs 1000

cat > "$work/scan.py" <<'PY'
import hashlib, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
n = 0
for row in c.execute("SELECT seq, time, actor, host, action, subject, details FROM history ORDER BY seq"):
    hashlib.sha256(b"\x00" + "|".join(map(str, row)).encode()).digest()
    n += 1
print(n)
PY
seq_mid=$((entries / 2 + 7))
json="$work/ledger-$entries.json"
hyperfine --style basic --runs "$runs" --export-json "$json" \
  -n "fixity log verify" "'$fixity' log verify --store '$store'" \
  -n "python3 scan" "python3 '$work/scan.py' '$store/fixity.db'" \
  -n "fixity log prove" "'$fixity' log prove $seq_mid --json --store '$store'" >&2
python3 - "$json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
m = lambda k: r[k]["median"]
print(f"log verify median {m('fixity log verify'):.2f} s; python3 row scan {m('python3 scan'):.2f} s; ratio verify/scan {m('fixity log verify') / m('python3 scan'):.2f}")
print(f"log prove (whole process) median {m('fixity log prove') * 1000:.1f} ms")
PY
