#!/usr/bin/env bash
# Control-plane benchmark (issue 17), in one run on the shared corpus:
#
#   bench/server-vs-rsync.sh [WORKDIR] [SCALE] [RUNS]
#
# 1. push of the corpus release to a loopback `fixity serve` (fresh data folder each run)
#      vs  rsync -a to an rsync daemon on loopback (fresh module folder) + sync;
#    the next release (mutate-corpus.sh) pushed to a server holding the first
#      vs  rsync -a of the next tree over the first + sync (rsync's incremental run);
#    pull of the corpus release into an empty store  vs  rsync -a from the daemon + sync.
#    Both sides end durable (Fixity's object protocol syncs; rsync is followed by `sync`).
# 2. GET /v1/environments/staging/desired with a valid key, wrk on loopback (2 threads,
#    50 connections, 10 s): requests/s and latency percentiles.
#    With FIXITY_BENCH_POSTGRES=postgres://USER@HOST:PORT/DB (a database the run may fill), the
#    same against a server whose metadata is in PostgreSQL (`serve --database`).
# 3. 1,000 idle keep-alive clients held open: the server's RSS before and with them.
# Medians of RUNS (default 5) for the timed commands; ratios from this one run.
# Needs: rsync, wrk (apt-get install rsync wrk).
source "$(dirname "$0")/lib.sh" "$@"
command -v rsync >/dev/null && command -v wrk >/dev/null || { echo "needs rsync and wrk" >&2; exit 2; }
next="$work/corpus-$scale-next"
if [ ! -d "$next" ]; then cp -a "$corpus" "$next" && bash "$shared/bench/mutate-corpus.sh" "$next" >&2; fi
client="$work/server-client-store"
rm -rf "$client"
v1=$("$fixity" seal "$corpus" --app bench --tag 1 --store "$client")
v2=$("$fixity" seal "$next" --app bench --tag 2 --store "$client")
port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now() { date +%s%N; }
server_pid=
rsyncd_pid=
stop_server() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; server_pid=; }
trap 'stop_server; [ -n "$rsyncd_pid" ] && kill "$rsyncd_pid" 2>/dev/null; true' EXIT
# start_server DATA [DATABASE_URL]: a server on a free port; sets url and key.
start_server() {
  local db=(); [ -n "${2:-}" ] && db=(--database "$2")
  key=$("$fixity" server key create --data "$1" "${db[@]}" --name "bench-$RANDOM$RANDOM" --scope admin 2>/dev/null)
  "$fixity" serve --data "$1" "${db[@]}" --listen 127.0.0.1:0 --log-level warning > "$work/serve.out" 2> "$work/serve.log" &
  server_pid=$!
  for _ in $(seq 1 200); do grep -q '^listening on ' "$work/serve.out" 2>/dev/null && break; sleep 0.05; done
  url=$(sed -n 's/^listening on //p' "$work/serve.out")
}

# The rsync daemon: one writable module on loopback.
rport=$(port)
mkdir -p "$work/rsyncd"
cat > "$work/rsyncd/rsyncd.conf" <<CONF
pid file = $work/rsyncd/pid
use chroot = no
[bench]
path = $work/rsync-dst
read only = false
uid = $(id -u)
gid = $(id -g)
CONF
rsync --daemon --no-detach --address=127.0.0.1 --port="$rport" --config="$work/rsyncd/rsyncd.conf" &
rsyncd_pid=$!
sleep 0.5

declare -A times
record() { times[$1]="${times[$1]:-} $2"; }
for run in $(seq 1 "$runs"); do
  # Full push vs rsync to an empty destination.
  rm -rf "$work/server-data"; sync; sleep 1
  start_server "$work/server-data"
  t0=$(now); FIXITY_API_KEY=$key "$fixity" push "$v1" --server "$url" --store "$client" > /dev/null; t1=$(now)
  record push $((t1 - t0))
  # The next release onto a server that holds the first.
  sync; sleep 1
  t0=$(now); FIXITY_API_KEY=$key "$fixity" push "$v2" --server "$url" --store "$client" > /dev/null; t1=$(now)
  record push_next $((t1 - t0))
  # Pull of the first release into an empty store.
  rm -rf "$work/pull-store"; sync; sleep 1
  t0=$(now); FIXITY_API_KEY=$key "$fixity" pull "$v1" --server "$url" --store "$work/pull-store" > /dev/null; t1=$(now)
  record pull $((t1 - t0))
  stop_server

  rm -rf "$work/rsync-dst"; mkdir -p "$work/rsync-dst"; sync; sleep 1
  t0=$(now); rsync -a "$corpus/" "rsync://127.0.0.1:$rport/bench/" && sync; t1=$(now)
  record rsync $((t1 - t0))
  sync; sleep 1
  t0=$(now); rsync -a --delete "$next/" "rsync://127.0.0.1:$rport/bench/" && sync; t1=$(now)
  record rsync_next $((t1 - t0))
  # rsync the other way: the daemon's (now next) tree into an empty folder; re-seed it with v1 first.
  rsync -a --delete "$corpus/" "rsync://127.0.0.1:$rport/bench/"
  rm -rf "$work/rsync-pull"; sync; sleep 1
  t0=$(now); rsync -a "rsync://127.0.0.1:$rport/bench/" "$work/rsync-pull/" && sync; t1=$(now)
  record rsync_pull $((t1 - t0))
done

# wrk against the desired state of a promoted environment (wrk_desired OUT [DATABASE_URL]).
wrk_desired() {
  FIXITY_API_KEY=$key "$fixity" policy set "$work/keys/policy.toml" --server "$url" --sign "$work/keys/root.key" > /dev/null
  FIXITY_API_KEY=$key "$fixity" push "$v1" --server "$url" --store "$client" > /dev/null
  FIXITY_API_KEY=$key "$fixity" promote "$v1" --env staging --server "$url" --store "$client" > /dev/null
  wrk -t2 -c50 -d10s --latency -H "Authorization: Bearer $key" "$url/v1/environments/staging/desired" > "$1"
}
rm -rf "$work/server-data" "$work/keys"; mkdir -p "$work/keys"
"$fixity" key generate --out "$work/keys/root.key" > /dev/null 2>&1
"$fixity" key generate --out "$work/keys/ci.key" > /dev/null 2>&1
printf '[root]\nkeys = ["%s"]\nthreshold = 1\n[keys]\nci = "%s"\n[environments.staging]\ntrusted_keys = ["ci"]\n' \
  "$("$fixity" key public "$work/keys/root.key" 2>/dev/null)" "$("$fixity" key public "$work/keys/ci.key" 2>/dev/null)" > "$work/keys/policy.toml"
"$fixity" sign "$v1" --key "$work/keys/ci.key" --store "$client" > /dev/null
rm -f "$work/wrk-pg.txt"
if [ -n "${FIXITY_BENCH_POSTGRES:-}" ]; then
  start_server "$work/server-data-pg" "$FIXITY_BENCH_POSTGRES"
  wrk_desired "$work/wrk-pg.txt"
  stop_server
  rm -rf "$work/server-data-pg"
fi
start_server "$work/server-data"
wrk_desired "$work/wrk.txt"

# 1,000 idle keep-alive clients.
rss() { awk '/VmRSS/ {print $2}' "/proc/$server_pid/status"; }
rss_before=$(rss)
rss_with=$(python3 - "$url" "$(rss)" "$server_pid" <<'PY'
import socket, sys, time
host, port = sys.argv[1].split("//")[1].split(":")
socks = []
for _ in range(1000):
    s = socket.create_connection((host, int(port)))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
    socks.append(s)
for s in socks:
    s.recv(4096)
time.sleep(2)
print(next(l.split()[1] for l in open(f"/proc/{sys.argv[3]}/status") if l.startswith("VmRSS")))
PY
)
stop_server

python3 - "$work/wrk.txt" "$rss_before" "$rss_with" "$work/wrk-pg.txt" <<PY
import re, statistics, sys
t = {k: [int(x) / 1e9 for x in v.split()] for k, v in [
    ("push", "${times[push]}"), ("push_next", "${times[push_next]}"), ("pull", "${times[pull]}"),
    ("rsync", "${times[rsync]}"), ("rsync_next", "${times[rsync_next]}"), ("rsync_pull", "${times[rsync_pull]}")]}
m = {k: statistics.median(v) for k, v in t.items()}
print(f"push full        {m['push']:.3f} s   rsync -a + sync        {m['rsync']:.3f} s   ratio {m['push'] / m['rsync']:.2f}x (goal <= 1.2)")
print(f"push next        {m['push_next']:.3f} s   rsync incremental      {m['rsync_next']:.3f} s   ratio {m['push_next'] / m['rsync_next']:.2f}x (goal <= 1.0)")
print(f"pull full        {m['pull']:.3f} s   rsync from daemon      {m['rsync_pull']:.3f} s   ratio {m['pull'] / m['rsync_pull']:.2f}x (goal <= 1.2)")
w = open(sys.argv[1]).read()
rps = re.search(r"Requests/sec:\s+([\d.]+)", w).group(1)
lat = {p: re.search(rf"\s{p}%\s+(\S+)", w).group(1) for p in ("50", "90", "99")}
print(f"wrk GET /desired  {rps} req/s, p50 {lat['50']}, p90 {lat['90']}, p99 {lat['99']} (goal >= 10000 req/s, p99 < 10 ms)")
import os
if os.path.exists(sys.argv[4]):
    w = open(sys.argv[4]).read()
    rps = re.search(r"Requests/sec:\s+([\d.]+)", w).group(1)
    lat = {p: re.search(rf"\s{p}%\s+(\S+)", w).group(1) for p in ("50", "90", "99")}
    print(f"  PostgreSQL mode {rps} req/s, p50 {lat['50']}, p90 {lat['90']}, p99 {lat['99']}")
print(f"1,000 idle keep-alive clients: RSS {int(sys.argv[2]) / 1024:.0f} MiB -> {int(sys.argv[3]) / 1024:.0f} MiB (goal < 200 MiB)")
print("runs:", {k: [round(x, 3) for x in v] for k, v in t.items()})
PY
