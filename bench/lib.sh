# Shared prelude of the bench scripts: sourced, not run.
#   usage in a script: source "$(dirname "$0")/lib.sh" "$@"
# Sets: repo, shared, work, scale, runs, fixity (a release build), corpus (generated if missing).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
shared=${FIXITY_SHARED:-$(cd "$repo/../shared" && pwd)}
work=${1:-/tmp/fixity-bench}
scale=${2:-1}
runs=${3:-5}
mkdir -p "$work"
work=$(cd "$work" && pwd)
# The shipped build: the Swift runtime and Foundation linked in (hosts need no Swift installed;
# each command starts ~5 ms sooner). Its own build folder, so debug and test builds stay as they are.
(cd "$repo" && swift build -c release --static-swift-stdlib --product fixity --build-path .build-static >&2)
fixity="$repo/.build-static/release/fixity"
corpus="$work/corpus-$scale"
[ -d "$corpus" ] || bash "$shared/bench/make-corpus.sh" "$corpus" "$scale" >&2
