#!/usr/bin/env bash
# Builds the libFuzzer harness and fuzzes every parser that meets untrusted bytes (manifest,
# DSSE + in-toto, checkpoint notes, Merkle proof verifiers, canonical JSON, tar) for SECONDS
# (default 60) from the seed corpus. A crash leaves crash-<hash> here: turn it into a
# regression test, then fix. docs/reliability.md.
#   fuzz/run.sh [SECONDS] [--each]     # --each: SECONDS for every parser in turn
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
each=${2:-}
swift build -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rc=0
names=(manifest dsse checkpoint proof json tar)
if [ "$each" = --each ]; then
  for n in 0 1 2 3 4 5; do
    # Each parser's own seed, without the selector byte the shared corpus carries.
    mkdir -p "$work/seed-$n" "$work/corpus-$n"
    tail -c +2 "corpus/${names[$n]}" > "$work/seed-$n/seed"
    FIXITY_FUZZ_PARSER=$n .build/debug/FuzzParsers "$work/corpus-$n" "$work/seed-$n" -max_total_time="$seconds" -max_len=4096 > "$work/log-$n" 2>&1 || rc=$?
    echo "${names[$n]}: $(grep -E "^Done" "$work/log-$n" || echo "did not finish")"
    [ $rc -eq 0 ] || { tail -40 "$work/log-$n"; echo "fuzz: ${names[$n]} crashed (exit $rc)"; exit $rc; }
  done
  exit 0
fi
.build/debug/FuzzParsers "$work" corpus -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 > "$work/log" 2>&1 || rc=$?
grep -E "^(Done|stat::number_of_executed_units|==|SUMMARY|artifact_prefix|Test unit written)" "$work/log" || true
[ $rc -eq 0 ] || { tail -40 "$work/log"; echo "fuzz: the harness found a crash (exit $rc)"; }
exit $rc
