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
(cd "$repo" && swift build -c release --product fixity >&2)
fixity="$repo/.build/release/fixity"
corpus="$work/corpus-$scale"
[ -d "$corpus" ] || bash "$shared/bench/make-corpus.sh" "$corpus" "$scale" >&2
