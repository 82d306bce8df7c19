#!/usr/bin/env bash
# Builds the libFuzzer harness and fuzzes every parser that meets untrusted bytes (manifest,
# DSSE + in-toto, checkpoint notes, Merkle proof verifiers, canonical JSON, tar) for SECONDS
# (default 60) from the seed corpus. A crash leaves crash-<hash> here: turn it into a
# regression test, then fix. docs/reliability.md.
#   fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
swift build -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rc=0
.build/debug/FuzzParsers "$work" corpus -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 > "$work/log" 2>&1 || rc=$?
grep -E "^(Done|stat::number_of_executed_units|==|SUMMARY|artifact_prefix|Test unit written)" "$work/log" || true
[ $rc -eq 0 ] || { tail -40 "$work/log"; echo "fuzz: the harness found a crash (exit $rc)"; }
exit $rc
