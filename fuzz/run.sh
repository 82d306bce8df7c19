#!/usr/bin/env bash
# Builds the libFuzzer harness and fuzzes every parser that meets untrusted bytes (manifest,
# DSSE + in-toto, checkpoint notes, Merkle proof verifiers, canonical JSON, tar, OCI documents,
# proof bundles, short strings: refs, digests, keys, times; TOML behind its guard; blob packs) for SECONDS (default 60) from the
# seed corpus. A crash leaves crash-<hash> here: turn it into a regression test, then fix.
# docs/reliability.md.
#   fuzz/run.sh [SECONDS] [--each [N...]]   # --each: SECONDS for every parser (or those listed) in turn
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
each=${2:-}
shift $(( $# < 2 ? $# : 2 ))
selected=("$@")
build=${FUZZ_BUILD_PATH:-.build}
# libFuzzer writes the crashing input (crash-<hash>) only if Swift's backtracer leaves the abort to it.
export SWIFT_BACKTRACE=enable=no
swift build --build-path "$build" -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rc=0
names=(manifest dsse checkpoint proof json tar oci bundle strings toml blobpack)
[ ${#selected[@]} -gt 0 ] || selected=(0 1 2 3 4 5 6 7 8 9 10)
if [ "$each" = --each ]; then
  for n in "${selected[@]}"; do
    # Each parser's own seeds (those whose selector byte is n), without that byte.
    mkdir -p "$work/seed-$n" "$work/corpus-$n"
    for f in corpus/*; do
      if [ "$(head -c 1 "$f" | od -An -tu1 | tr -d ' ')" = "$n" ]; then tail -c +2 "$f" > "$work/seed-$n/$(basename "$f")"; fi
    done
    FIXITY_FUZZ_PARSER=$n "$build/debug/FuzzParsers" "$work/corpus-$n" "$work/seed-$n" -max_total_time="$seconds" -max_len=8192 > "$work/log-$n" 2>&1 || rc=$?
    echo "${names[$n]}: $(grep -E "^Done" "$work/log-$n" || echo "did not finish")"
    [ $rc -eq 0 ] || { tail -40 "$work/log-$n"; echo "fuzz: ${names[$n]} crashed (exit $rc)"; exit $rc; }
  done
  exit 0
fi
"$build/debug/FuzzParsers" "$work" corpus -max_total_time="$seconds" -max_len=8192 -print_final_stats=1 > "$work/log" 2>&1 || rc=$?
grep -E "^(Done|stat::number_of_executed_units|==|SUMMARY|artifact_prefix|Test unit written)" "$work/log" || true
[ $rc -eq 0 ] || { tail -40 "$work/log"; echo "fuzz: the harness found a crash (exit $rc)"; }
exit $rc
