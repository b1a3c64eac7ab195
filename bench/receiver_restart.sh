#!/usr/bin/env bash
# Time from SIGKILL of a receive-wal to a new one streaming: `cellar daemon`
# (supervised child, restarted after its 1 s backoff) vs `cellar cron`
# (Barman's model: the receiver comes back at the next pass).
#
# One throwaway PostgreSQL 15 (unix socket, trust, superuser postgres, which
# may replicate), one cellar server with create_slot = "auto" and
# streaming_archiver = true, the default receive_wal_backoff_limit (10 s).
#
# "Streaming" = pg_stat_replication has a walsender in state 'streaming'
# whose pid differs from the walsender of the killed receiver. A PL/pgSQL
# loop in the server polls it every 5 ms (pg_stat_clear_snapshot() each
# time, so that new backends show up inside the one call) and returns the
# server's clock_timestamp() when it sees one; the poller is connected and
# looping before the kill, and the kill time is taken just before kill -9.
#
# daemon: the receiver has been streaming for UP_S seconds (default 12,
# more than the backoff limit) before each kill, so every kill is the first
# fast crash of a new series: the daemon's 1 s delay, never 2 s or more.
# The daemon's `backoff` after each restart is printed to show it.
#
# cron: (a) is measured: kill, wait until the killed process is gone (its
# receive-wal lock is free), run `cellar cron` at once, time until streaming.
# (b) is computed, not slept: under `* * * * * cellar cron` a kill lands at a
# uniformly random point of the minute, so the next pass comes 0-60 s later
# (mean 30 s, worst 60 s), then takes (a). LOOP=1 also measures one kill
# under a real `while :; do cellar cron; sleep 60; done` loop (up to ~60 s).
#
# Usage: bench/receiver_restart.sh [BUILD_DIR] [RUNS]   (as root; default build 7)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-7}
UP_S=${UP_S:-12}
LOOP=${LOOP:-0}
CELLAR=$PWD/$BUILD/cellar
PG_BIN=/usr/lib/postgresql/15/bin
AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --)
SRV=bench

[ -x "$CELLAR" ] || { echo "ERROR: $CELLAR not built (cmake --build $BUILD)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/cellar-bench-restart-XXXXXX)
chmod 755 "$WORK"
PORT=$((20000 + RANDOM % 20000))
CFG=$WORK/cellar.toml
loop_pid=
cleanup() {
  [ -n "$loop_pid" ] && { kill "$loop_pid" 2>/dev/null || true; wait "$loop_pid" 2>/dev/null || true; }
  if [ -e "$CFG" ]; then
    "$CELLAR" -c "$CFG" -q daemon stop >/dev/null 2>&1 || true
    "$CELLAR" -c "$CFG" -q receive-wal --stop "$SRV" >/dev/null 2>&1 || true
  fi
  "${AS_PG[@]}" env -C / "$PG_BIN/pg_ctl" stop -D "$WORK/pg/data" -m immediate -w >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK/pg" && chown postgres: "$WORK/pg"
"${AS_PG[@]}" env -C / "$PG_BIN/initdb" -D "$WORK/pg/data" -A trust >/dev/null
cat >> "$WORK/pg/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$WORK/pg'
port = $PORT
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
CONF
"${AS_PG[@]}" env -C / "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w start >/dev/null
PSQL=("$PG_BIN/psql" -h "$WORK/pg" -p "$PORT" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1)

"${PSQL[@]}" <<'SQL'
CREATE FUNCTION bench_wait_streaming(old_pid int, timeout_s float8) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
  deadline timestamptz := clock_timestamp() + timeout_s * interval '1 second';
BEGIN
  LOOP
    PERFORM pg_stat_clear_snapshot();
    IF EXISTS (SELECT 1 FROM pg_stat_replication WHERE state = 'streaming' AND pid <> old_pid) THEN
      RETURN extract(epoch FROM clock_timestamp());
    END IF;
    IF clock_timestamp() > deadline THEN
      RETURN NULL;
    END IF;
    PERFORM pg_sleep(0.005);
  END LOOP;
END $$;
SQL

mkdir -p "$WORK/cellar"
cat > "$CFG" <<CONF
[global]
home = "$WORK/cellar"
log_file = ""
[servers.$SRV]
conninfo = "host=$WORK/pg port=$PORT user=postgres dbname=postgres"
create_slot = "auto"
streaming_archiver = true
CONF
cellar_() { "$CELLAR" -c "$CFG" "$@"; }

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
walsender_pid() { "${PSQL[@]}" -c "SELECT coalesce(max(pid), 0) FROM pg_stat_replication WHERE state = 'streaming'"; }
# Until some walsender streams (the first receiver).
wait_first_streaming() {
  local tries=0
  until [ "$(walsender_pid)" != 0 ]; do
    tries=$((tries + 1))
    [ "$tries" -lt 300 ] || { echo "ERROR: no walsender streaming after 30 s" >&2; tail "$WORK/cellar/$SRV/receive-wal.log" >&2; exit 1; }
    sleep 0.1
  done
}
# The receiver's PID, from the daemon's status.
daemon_receiver() {  # field -> value of servers.SRV.receive_wal.FIELD
  cellar_ daemon status --format json |
    python3 -c "import json, sys; print(json.load(sys.stdin)['servers']['$SRV']['receive_wal']['$1'])"
}
# A killed process is gone once it is no longer in /proc or a zombie: its
# descriptors, and so its receive-wal lock, are closed by then.
wait_gone() {
  local pid=$1
  while [ -e "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; do sleep 0.001; done
}

# Starts the poller for "a walsender other than OLD streams" and returns
# once it runs in the server; $poll_out receives the epoch it saw one at.
poll_out=$WORK/poll.out
start_poller() {  # OLD_WALSENDER_PID TIMEOUT_S
  rm -f "$poll_out"
  "${PSQL[@]}" -c "SELECT bench_wait_streaming($1, $2)" > "$poll_out" &
  poller=$!
  until [ "$("${PSQL[@]}" -c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT bench_wait_streaming(%' AND state = 'active'")" != 0 ]; do
    sleep 0.01
  done
}
# Waits for the poller; sets $took to the seconds from T0 to the new
# walsender streaming (not in a $(...): the poller is this shell's child).
end_poller() {  # T0
  wait "$poller"
  local t1; t1=$(cat "$poll_out")
  [ -n "$t1" ] || { echo "ERROR: no new walsender streaming within the timeout" >&2; tail "$WORK/cellar/$SRV/receive-wal.log" >&2; exit 1; }
  took=$(awk -v a="$1" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}')
}

echo "# $(uname -srm), $(nproc) CPUs; $("$PG_BIN/postgres" --version); $("$CELLAR" --version 2>&1 | head -1)"
echo "# uptime:$(uptime)"
echo "# $RUNS kills each; daemon: receiver up ${UP_S} s before each kill (receive_wal_backoff_limit 10 s)"

# --- daemon -----------------------------------------------------------------
cellar_ daemon start
wait_first_streaming
daemon_times=()
for i in $(seq 1 "$RUNS"); do
  sleep "$UP_S"
  rw=$(daemon_receiver pid)
  ws=$(walsender_pid)
  start_poller "$ws" 60
  t0=$(now)
  kill -KILL "$rw"
  end_poller "$t0"; daemon_times+=("$took")
  echo "daemon run $i: receive-wal $rw killed, new walsender streaming after ${daemon_times[-1]} s" \
       "(daemon backoff $(daemon_receiver backoff) s, restarts $(daemon_receiver restarts))"
done
cellar_ daemon stop

# --- cron -------------------------------------------------------------------
# The daemon stopped its receiver; the first cron pass starts a new one.
# Each pass prints "Starting receive-wal for server 'bench' (PID N)".
cron_pid() { sed -n "s/^Starting receive-wal for server '$SRV' (PID \([0-9]*\)).*/\1/p" "$1"; }
cellar_ cron > "$WORK/cron.out"
rw=$(cron_pid "$WORK/cron.out")
[ -n "$rw" ] || { echo "ERROR: cron started no receive-wal:" >&2; cat "$WORK/cron.out" >&2; exit 1; }
wait_first_streaming
cron_times=() pass_times=()
for i in $(seq 1 "$RUNS"); do
  sleep 2
  ws=$(walsender_pid)
  start_poller "$ws" 60
  t0=$(now)
  kill -KILL "$rw"
  wait_gone "$rw"
  c0=$(now)
  cellar_ cron > "$WORK/cron.out"
  c1=$(now)
  end_poller "$t0"; cron_times+=("$took")
  pass_times+=("$(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.3f\n", b - a}')")
  rw=$(cron_pid "$WORK/cron.out")
  [ -n "$rw" ] || { echo "ERROR: cron did not restart receive-wal:" >&2; cat "$WORK/cron.out" >&2; exit 1; }
  echo "cron run $i: new walsender streaming after ${cron_times[-1]} s (the cron process itself: ${pass_times[-1]} s)"
done

# Optional: one kill under a real every-minute loop.
if [ "$LOOP" = 1 ]; then
  ( s=; trap 'kill $s 2>/dev/null; exit 0' TERM
    while :; do "$CELLAR" -c "$CFG" cron >> "$WORK/loop.out"; sleep 60 & s=$!; wait $s; done ) &
  loop_pid=$!
  sleep $((2 + RANDOM % 58))  # a random point of the loop's minute
  ws=$(walsender_pid)
  start_poller "$ws" 120
  t0=$(now)
  kill -KILL "$rw"
  end_poller "$t0"; loop_time=$took
  kill "$loop_pid"; wait "$loop_pid" 2>/dev/null || true; loop_pid=
  echo "cron loop (sleep 60): new walsender streaming after $loop_time s"
fi
echo "# uptime:$(uptime)"

# --- table ------------------------------------------------------------------
stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {
  m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2
  printf "%.3f %.3f %.3f\n", m, a[1], a[NR] }'; }
read -r dm dmin dmax <<<"$(stats "${daemon_times[@]}")"
read -r cm cmin cmax <<<"$(stats "${cron_times[@]}")"
read -r pm pmin pmax <<<"$(stats "${pass_times[@]}")"
echo
echo "| seconds from SIGKILL to a new walsender streaming | median | min | max |"
echo "|---|---|---|---|"
printf '| daemon (1 s backoff), measured | %.3f | %.3f | %.3f |\n' "$dm" "$dmin" "$dmax"
printf '| cron pass run right after the kill, measured | %.3f | %.3f | %.3f |\n' "$cm" "$cmin" "$cmax"
printf '| (the cron process alone, measured) | %.3f | %.3f | %.3f |\n' "$pm" "$pmin" "$pmax"
printf '| every-minute cron, expected (computed: pass + 30 s mean wait) | %.3f | %.3f | %.3f |\n' \
  "$(awk -v x="$cm" 'BEGIN {print x + 30}')" "$(awk -v x="$cmin" 'BEGIN {print x + 30}')" "$(awk -v x="$cmax" 'BEGIN {print x + 30}')"
printf '| every-minute cron, worst (computed: pass + 60 s) | %.3f | %.3f | %.3f |\n' \
  "$(awk -v x="$cm" 'BEGIN {print x + 60}')" "$(awk -v x="$cmin" 'BEGIN {print x + 60}')" "$(awk -v x="$cmax" 'BEGIN {print x + 60}')"
[ "$LOOP" = 1 ] && printf '| real `while cron; sleep 60` loop, one kill, measured | %.3f | | |\n' "$loop_time"
awk -v c="$cm" -v d="$dm" 'BEGIN {
  printf "\nratio every-minute cron expected / daemon (medians): %.1fx (worst case: %.1fx)\n", (c + 30) / d, (c + 60) / d }'
