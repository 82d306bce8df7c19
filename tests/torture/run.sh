#!/usr/bin/env bash
# Crash torture: SIGKILL seal, gc, deploy, rollback, repair, log checkpoint and oci import at random moments,
# and after every kill check what an operator relies on (issue 8, docs/reliability.md):
#   fixity fsck is clean; ROOT/current resolves to a complete deployment that
#   `verify --full` finds clean (after repair: once the repair is re-run); `log verify` passes;
#   re-running the interrupted command succeeds.
#
#   tests/torture/run.sh [--kills N] [--bin PATH] [--work DIR]
#
# N kills per command (default 20, the CI mode; the long mode is --kills 200). Prints one line per
# failure and ends with "N passed, N failed"; exits 1 when anything failed.
set -uo pipefail
kills=20
bin=""
work=""
while [ $# -gt 0 ]; do
  case "$1" in
    --kills) kills=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "usage: $0 [--kills N] [--bin PATH] [--work DIR]" >&2; exit 64 ;;
  esac
done
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${bin:-$here/.build/debug/fixity}
[ -x "$bin" ] || { echo "no fixity binary at $bin (swift build first)" >&2; exit 2; }
work=${work:-$(mktemp -d /tmp/fixity-torture-XXXXXX)}
mkdir -p "$work"
export FIXITY_STORE="$work/store"
root="$work/root"
passed=0
failed=0

fail() { failed=$((failed + 1)); echo "FAIL [$1 kill $2]: $3"; }

# A tree with enough files that every command has something to be interrupted in.
make_tree() { # DIR VERSION FILES
  mkdir -p "$1"
  for d in $(seq 1 8); do
    mkdir -p "$1/d$d"
    for f in $(seq 1 "$3"); do echo "$2 $d $f $(head -c 200 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$1/d$d/f$f"; done
  done
  echo "$2" > "$1/VERSION"
  head -c 2000000 /dev/urandom > "$1/blob"
}

# Runs a command in the background, kills it after a random delay (if still running).
run_and_kill() { # MAXDELAY_MS CMD...
  local max=$1; shift
  "$@" > /dev/null 2>&1 &
  local pid=$!
  local delay
  delay=$(awk -v m="$max" 'BEGIN { srand(); printf "%.3f", rand() * m / 1000 }')
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

check_store() { # COMMAND ROUND
  "$bin" fsck > "$work/fsck.out" 2>&1 || fail "$1" "$2" "fsck: $(tail -2 "$work/fsck.out" | tr '\n' ' ')"
  "$bin" log verify > "$work/log.out" 2>&1 || fail "$1" "$2" "log verify: $(tail -2 "$work/log.out" | tr '\n' ' ')"
}

check_root() { # COMMAND ROUND
  if [ ! -e "$root/current" ]; then fail "$1" "$2" "current does not resolve"; return; fi
  "$bin" verify --root "$root" --full > "$work/verify.out" 2>&1 || fail "$1" "$2" "verify --full: $(tail -3 "$work/verify.out" | tr '\n' ' ')"
}

# One round: kill, check, re-run, check. $1 name, $2 round, $3 max delay, rest the command.
round() {
  local name=$1 n=$2 max=$3; shift 3
  local before=$failed
  run_and_kill "$max" "$@"
  check_store "$name" "$n"
  [ "$name" = repair ] || { [ -e "$root/current" ] && check_root "$name" "$n"; }
  "$@" > "$work/rerun.out" 2>&1
  local rc=$?
  # deploy exits 1 when a health check failed and it rolled back: none is configured here.
  [ $rc -eq 0 ] || fail "$name" "$n" "re-run exited $rc: $(tail -2 "$work/rerun.out" | tr '\n' ' ')"
  check_store "$name" "$n"
  [ -e "$root/current" ] && check_root "$name" "$n"
  [ $failed -eq $before ] && passed=$((passed + 1))
}

make_tree "$work/v1" v1 40
make_tree "$work/v2" v2 40
"$bin" seal "$work/v1" --app app --tag 1 > /dev/null || exit 2
"$bin" seal "$work/v2" --app app --tag 2 > /dev/null || exit 2
"$bin" key generate --out "$work/log.key" > /dev/null 2>&1 || exit 2
"$bin" deploy app@1 --root "$root" --link copy > /dev/null || exit 2

for n in $(seq 1 "$kills"); do
  # seal: a tree that changes every round, so there is always new content to write.
  echo "round $n" > "$work/v1/ROUND"
  round seal "$n" 400 "$bin" seal "$work/v1" --app app
done
for n in $(seq 1 "$kills"); do
  round gc "$n" 300 "$bin" gc
done
for n in $(seq 1 "$kills"); do
  round deploy "$n" 400 "$bin" deploy "app@$((n % 2 + 1))" --root "$root" --link copy --keep 2
done
for n in $(seq 1 "$kills"); do
  # Deploy one, roll back to the other by name: a completed rollback re-run is then a no-op
  # (a default rollback re-run would rightly go one further back, or find nothing older).
  "$bin" deploy "app@$((n % 2 + 1))" --root "$root" --link copy --keep 3 > /dev/null 2>&1
  round rollback "$n" 200 "$bin" rollback --root "$root" --to "app@$(((n + 1) % 2 + 1))"
done
for n in $(seq 1 "$kills"); do
  # A hot-fix to undo: change, add and remove files in the live tree.
  live="$root/current"
  chmod -R u+w "$live/d1" "$live/d2" 2>/dev/null
  echo hotfix >> "$live/d1/f1"; echo new > "$live/d2/added$n"; rm -f "$live/d2/f2"
  round repair "$n" 300 "$bin" repair --root "$root"
done
for n in $(seq 1 "$kills"); do
  round checkpoint "$n" 100 "$bin" log checkpoint --key "$work/log.key"
done
"$bin" oci export app@2 --out "$work/layout" > /dev/null || exit 2
for n in $(seq 1 "$kills"); do
  # An image import streams every layer file into the store's temp space and records the
  # release last; after the first success it is the same release again ("already in the store").
  round oci-import "$n" 400 "$bin" oci import "$work/layout" --app img
done

echo "$passed passed, $failed failed"
[ "${KEEP:-0}" = 1 ] || rm -rf "$work"
[ $failed -eq 0 ]
