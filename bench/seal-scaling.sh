#!/usr/bin/env bash
# How seal time and peak memory grow with the tree: SCALE 0.1, 1 and 5 of the shared corpus.
#
#   bench/seal-scaling.sh [WORKDIR] [SCALES...]
#
# For each scale: a cold seal into a fresh store, then mutate-corpus.sh (1% changed) and a
# re-seal of the same folder; wall time and peak RSS from GNU time, one run each (the peer
# benchmark, seal-vs-peers.sh, gives medians).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
shared=${FIXITY_SHARED:-$(cd "$repo/../shared" && pwd)}
work=${1:-/tmp/fixity-bench}
shift || true
scales=("$@")
[ ${#scales[@]} -gt 0 ] || scales=(0.1 1 5)
mkdir -p "$work"
work=$(cd "$work" && pwd)
# The shipped build (see lib.sh).
(cd "$repo" && swift build -c release --static-swift-stdlib --product fixity --build-path .build-static >&2)
fixity="$repo/.build-static/release/fixity"

printf '%-6s %8s %10s %10s %12s %10s %12s\n' scale files MB "cold s" "cold RSS MB" "reseal s" "reseal RSS MB"
for scale in "${scales[@]}"; do
  corpus="$work/corpus-$scale"
  [ -d "$corpus" ] || bash "$shared/bench/make-corpus.sh" "$corpus" "$scale" >&2
  rm -rf "$work/scale-store" "$work/scale-tree"
  cp -a "$corpus" "$work/scale-tree"
  tar -C "$work/scale-tree" -cf - . > /dev/null
  sync
  /usr/bin/time -f "%e %M" -o "$work/t-cold" "$fixity" seal "$work/scale-tree" --app bench --store "$work/scale-store" > /dev/null
  bash "$shared/bench/mutate-corpus.sh" "$work/scale-tree" > /dev/null
  sync
  /usr/bin/time -f "%e %M" -o "$work/t-re" "$fixity" seal "$work/scale-tree" --app bench --store "$work/scale-store" > /dev/null
  read -r cold_s cold_kb < <(tail -1 "$work/t-cold")
  read -r re_s re_kb < <(tail -1 "$work/t-re")
  files=$(find "$corpus" -type f | wc -l)
  mb=$(( $(du -sb "$corpus" | cut -f1) / 1000000 ))
  printf '%-6s %8s %10s %10s %12s %10s %12s\n' "$scale" "$files" "$mb" "$cold_s" "$((cold_kb / 1024))" "$re_s" "$((re_kb / 1024))"
done
rm -rf "$work/scale-store" "$work/scale-tree"
