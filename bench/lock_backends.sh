#!/bin/sh
# Lock backends side by side in one run, both through the LockManager
# interface (lock_bench manager-*): the file backend on a lock directory in a
# temporary directory, and the etcd backend against a throwaway single-node
# etcd on 127.0.0.1 (Debian's etcd-server, data directory beside the lock
# directory, plain HTTP). Measured: acquire+release of one typed lock (and a
# fresh manager's first acquire: for etcd the lease grant), hold+release_hold,
# and list() while one manager holds LOCKS process locks. Medians of RUNS
# runs: wall time, this process's CPU time and, for etcd, the etcd server's
# CPU time and its WAL fsyncs (from its /metrics) during each phase.
# Usage: bench/lock_backends.sh [BUILD_DIR]   (default: build)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
bench=$build/bench/lock_bench
etcd=/usr/bin/etcd
iterations=${ITERATIONS:-5000}  # file acquire+release per run
ops=${OPS:-500}                 # every other loop (etcd acquire, holds) per run
runs=${RUNS:-5}
locks=${LOCKS:-1000}

[ -x "$bench" ] || { echo "ERROR: $bench not built (ninja -C $build lock_bench)" >&2; exit 1; }
[ -x "$etcd" ] || { echo "ERROR: $etcd not found (apt-get install etcd-server)" >&2; exit 1; }

dir=$(mktemp -d)
etcd_pid=
cleanup() {
  if [ -n "$etcd_pid" ]; then
    kill "$etcd_pid" 2>/dev/null || true
    wait "$etcd_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Two free ports at once, so that they differ (bound, then closed).
ports=$(python3 -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')
client=http://127.0.0.1:${ports% *}
peer=http://127.0.0.1:${ports#* }
"$etcd" --name bench --data-dir "$dir/etcd" \
  --listen-client-urls "$client" --advertise-client-urls "$client" \
  --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
  --initial-cluster "bench=$peer" --log-level warn >"$dir/etcd.log" 2>&1 &
etcd_pid=$!
# etcd binds its port before it has a leader; /health says true once it has.
tries=0
until curl -fsS "$client/health" 2>/dev/null | grep -q '"health":"true"'; do
  tries=$((tries + 1))
  if ! kill -0 "$etcd_pid" 2>/dev/null || [ "$tries" -gt 300 ]; then
    echo "ERROR: etcd did not become healthy at $client:" >&2
    cat "$dir/etcd.log" >&2
    exit 1
  fi
  sleep 0.1
done

# "sum count" of etcd's WAL fsync histogram so far.
fsyncs() { curl -fsS "$client/metrics" | awk '/^etcd_disk_wal_fsync_duration_seconds_(sum|count) / { printf "%s ", $2 }'; }
# Runs an etcd measurement, then prints the WAL fsyncs it caused: how many,
# how many per operation ($1 operations), and their mean duration.
with_fsyncs() {
  n=$1
  shift
  before=$(fsyncs)
  BENCH_SERVER_PID=$etcd_pid "$bench" "$@"
  echo "$before $(fsyncs)" | awk -v n="$n" '{ c = $4 - $2; s = $3 - $1
    printf "etcd_wal_fsyncs %d (%.2f per operation of %d; mean %.2f ms each)\n", c, c / n, n, c ? s / c * 1000 : 0 }'
}

locks_dir=$dir/locks
mkdir "$locks_dir"
echo "# $(uname -srm), $(nproc) CPUs, $(findmnt -no FSTYPE -T "$dir") at $dir (lock directory and etcd data);" \
  "etcd $("$etcd" --version | awk '/^etcd Version/ { print $3 }') at $client"
echo "# uptime:$(uptime)"
echo "# acquire+release of one lock: file $iterations per run, etcd $ops per run, median of $runs runs"
"$bench" manager-acquire file "$locks_dir" "$iterations" "$runs"
with_fsyncs $((runs * (ops + 1))) manager-acquire etcd "$client" /bench/acquire/ "$ops" "$runs"
echo "# hold+release_hold of one resource, $ops per run, median of $runs runs"
"$bench" manager-hold file "$locks_dir" "$ops" "$runs"
with_fsyncs $((runs * ops)) manager-hold etcd "$client" /bench/hold/ "$ops" "$runs"
echo "# list() with $locks process locks held by one manager, median of $runs runs"
"$bench" manager-list file "$locks_dir" "$locks" "$runs"
with_fsyncs "$locks" manager-list etcd "$client" /bench/list/ "$locks" "$runs"
echo "# uptime:$(uptime)"
