#!/usr/bin/env bash
# OCI export benchmark: `fixity oci export` of the corpus release against `tar -c | gzip -1` of
# the same tree, in one run (hyperfine, median of RUNS, default 5, page cache warm).
#
#   bench/oci-export.sh [WORKDIR] [SCALE] [RUNS]
#
# fixity's export reads every object from the store verifying its digest, writes a sorted
# deterministic tar, gzips it (level 1), hashes both (diff_id and blob digest) and makes the
# layout durable (fsync) before renaming it into place; the peer only reads, tars and gzips to
# /dev/null. Needs: hyperfine (apt-get install hyperfine).
source "$(dirname "$0")/lib.sh" "$@"
store="$work/oci-store"
rm -rf "$store" "$work/oci-out"
release=$("$fixity" seal "$corpus" --app bench --store "$store")
tar -C "$corpus" -cf - . > /dev/null
json="$work/oci-export-$scale.json"
hyperfine --style basic --runs "$runs" --export-json "$json" \
  --prepare "rm -rf '$work/oci-out'" \
  -n "fixity oci export" "'$fixity' oci export $release --out '$work/oci-out' --store '$store'" \
  -n "tar | gzip -1" "tar -C '$corpus' -cf - . | gzip -1 > /dev/null" >&2
python3 - "$json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
f, t = r["fixity oci export"]["median"], r["tar | gzip -1"]["median"]
print(f"oci export median {f:.2f} s; tar | gzip -1 median {t:.2f} s; ratio {f / t:.2f} (target <= 1.5)")
PY
# (--prepare also runs before the peer's runs, so the layout is gone: make it once more for its size.)
rm -rf "$work/oci-out"
"$fixity" oci export "$release" --out "$work/oci-out" --store "$store" > /dev/null 2>&1
du -sb "$work/oci-out/blobs" | awk '{print "layout bytes", $1}'
