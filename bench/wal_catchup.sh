#!/usr/bin/env bash
# Catch-up throughput of receive-wal: with >= 1 GiB of WAL held by a
# replication slot, how long until the receiver has every segment durable on
# disk. cellar receive-wal vs pg_receivewal, same durability (fsync per
# segment, pg_receivewal's default), same server, alternating order, several
# runs, medians. Each run uses its own slot created before the WAL was made,
# so every run streams the same WAL from the server's pg_wal.
#
# Usage: bench/wal_catchup.sh [BUILD_DIR] [RUNS] [WAL_MB]   (as root)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-3}
WAL_MB=${3:-1100}
CELLAR=$PWD/$BUILD/cellar
PG_BIN=/usr/lib/postgresql/15/bin
AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --)

WORK=$(mktemp -d /tmp/cellar-bench-wal-XXXXXX)
chmod 755 "$WORK"
PORT=$((20000 + RANDOM % 20000))
cleanup() {
  "${AS_PG[@]}" env -C / "$PG_BIN/pg_ctl" stop -D "$WORK/pg/data" -m immediate -w >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/pg" && chown postgres: "$WORK/pg"
"${AS_PG[@]}" env -C / "$PG_BIN/initdb" -D "$WORK/pg/data" -A trust >/dev/null
cat >> "$WORK/pg/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$WORK/pg'
port = $PORT
wal_level = replica
max_wal_senders = 20
max_replication_slots = 20
max_wal_size = 4GB
CONF
"${AS_PG[@]}" env -C / "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w start >/dev/null
PSQL=("$PG_BIN/psql" -h "$WORK/pg" -p "$PORT" -U postgres -d postgres -qAt)

for i in $(seq 1 "$RUNS"); do
  "${PSQL[@]}" -c "SELECT pg_create_physical_replication_slot('c$i', true)" >/dev/null
  "${PSQL[@]}" -c "SELECT pg_create_physical_replication_slot('p$i', true)" >/dev/null
done
start_lsn=$("${PSQL[@]}" -c "SELECT pg_current_wal_lsn()")
echo "generating ${WAL_MB} MB of WAL..."
"${PSQL[@]}" -c "CREATE TABLE filler(id int, pad text)"
while :; do
  "${PSQL[@]}" -c "INSERT INTO filler SELECT g, repeat(md5(g::text), 6) FROM generate_series(1, 500000) g"
  made=$("${PSQL[@]}" -c "SELECT (pg_current_wal_lsn() - '$start_lsn'::pg_lsn) / 1048576")
  [ "${made%.*}" -ge "$WAL_MB" ] && break
done
end_lsn=$("${PSQL[@]}" -c "SELECT pg_current_wal_lsn()")
last_seg=$("${PSQL[@]}" -c "SELECT pg_walfile_name('$end_lsn')")
"${PSQL[@]}" -c "SELECT pg_switch_wal()" >/dev/null
held_mb=$("${PSQL[@]}" -c "SELECT round((pg_current_wal_lsn() - min(restart_lsn)) / 1048576) FROM pg_replication_slots")
echo "WAL held by the slots: ${held_mb} MB; the receivers must deliver up to $last_seg"

now() { date +%s.%N; }

run_cellar() {  # slot -> seconds
  local slot=$1 home=$WORK/c-$1
  mkdir -p "$home"
  cat > "$WORK/c-$slot.toml" <<CONF
[global]
home = "$home"
log_file = ""
[servers.bench]
conninfo = "host=$WORK/pg port=$PORT user=postgres dbname=postgres"
slot_name = "$slot"
CONF
  local t0; t0=$(now)
  "$CELLAR" -c "$WORK/c-$slot.toml" -q receive-wal bench &
  local pid=$!
  until [ -e "$home/bench/streaming/$last_seg" ]; do sleep 0.02; done
  local t1; t1=$(now)
  kill -TERM "$pid"; wait "$pid" || true
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}'
}

run_pg_receivewal() {  # slot -> seconds
  local slot=$1 dir=$WORK/p-$1
  mkdir -p "$dir"
  local t0; t0=$(now)
  "$PG_BIN/pg_receivewal" -h "$WORK/pg" -p "$PORT" -U postgres -D "$dir" -S "$slot" --no-loop -n &
  local pid=$!
  until [ -e "$dir/$last_seg" ]; do sleep 0.02; done
  local t1; t1=$(now)
  kill -TERM "$pid"; wait "$pid" || true
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}'
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

cellar_times=() pgrw_times=()
for i in $(seq 1 "$RUNS"); do
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
  if [ $((i % 2)) -eq 1 ]; then
    cellar_times+=("$(run_cellar "c$i")"); pgrw_times+=("$(run_pg_receivewal "p$i")")
  else
    pgrw_times+=("$(run_pg_receivewal "p$i")"); cellar_times+=("$(run_cellar "c$i")")
  fi
  echo "run $i: cellar ${cellar_times[-1]} s, pg_receivewal ${pgrw_times[-1]} s"
  rm -rf "$WORK/c-c$i" "$WORK/p-p$i"
done
c=$(printf '%s\n' "${cellar_times[@]}" | median)
p=$(printf '%s\n' "${pgrw_times[@]}" | median)
echo
echo "WAL: ${held_mb} MB, runs: $RUNS"
awk -v mb="$held_mb" -v c="$c" -v p="$p" 'BEGIN {
  printf "median catch-up: cellar %.2f s (%.0f MB/s), pg_receivewal %.2f s (%.0f MB/s)\n", c, mb / c, p, mb / p
  printf "throughput ratio cellar/pg_receivewal: %.2f\n", p / c }'
