# Shared by bench/backup.sh and bench/restore.sh (sourced, bash): a private
# PostgreSQL 15 cluster run as postgres in $WORK, the two datasets, and the
# catalogues of cellar, Barman 3.4 and pgBackRest 2.45 configured against it.
#
# WAL: archive_command hard-links every finished segment into both cellar's
# and Barman's incoming/ directories (a copy is staged first so that a file
# appears there only when complete). pgBackRest archives nothing: its backups
# run with archive-check=n (it does not wait for WAL, like pg_basebackup -X
# none, cellar backup without --wait and barman backup without --wait).
#
# Every tool but pg_basebackup's wrapper runs as postgres (setpriv): Barman
# wants barman_user, pgBackRest reads PGDATA directly, and archive_command
# (run by postgres) must be able to write into cellar's and Barman's incoming/.
# Caller sets CELLAR (binary) and installs the trap: trap bench_cleanup EXIT.

PG_BIN=/usr/lib/postgresql/15/bin
AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --)
SRV=bench

bench_install_peers() {
  local missing=()
  command -v barman >/dev/null || missing+=(barman)
  command -v pgbackrest >/dev/null || missing+=(pgbackrest)
  [ -x /usr/bin/time ] || missing+=(time)
  [ -e /usr/lib/postgresql/15/lib/pgcrypto.so ] || missing+=(postgresql-contrib)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}" >&2
    apt-get install -y "${missing[@]}" >/dev/null
  fi
}

bench_versions() {
  echo "cellar: $("$CELLAR" --version 2>&1 | head -1); $("$PG_BIN/pg_basebackup" --version);" \
       "barman $(barman --version 2>&1 | head -1); $(pgbackrest version)"
}

bench_init() {  # -> WORK, PORT
  WORK=$(mktemp -d /tmp/cellar-bench-XXXXXX)
  chmod 755 "$WORK"
  chown postgres: "$WORK"
  PORT=$((20000 + RANDOM % 20000))
  bench_commands
}

bench_stop_cluster() {
  [ -d "$WORK/pg/data" ] &&
    "${AS_PG[@]}" env -C / "$PG_BIN/pg_ctl" stop -D "$WORK/pg/data" -m immediate -w >/dev/null 2>&1
  return 0
}

bench_cleanup() {
  [ -n "${WORK:-}" ] || return 0
  bench_stop_cluster
  rm -rf "$WORK"
}

psql_() { "$PG_BIN/psql" -h "$WORK/pg" -p "$PORT" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 "$@"; }

# A fresh cluster and fresh catalogues (a new cluster has a new system id).
bench_new_cluster() {
  bench_stop_cluster
  rm -rf "$WORK/pg" "$WORK/cellar" "$WORK/barman" "$WORK/pgbr" "$WORK/stage" "$WORK"/out*
  mkdir -p "$WORK/pg" "$WORK/stage" "$WORK/cellar/$SRV/incoming" "$WORK/barman/$SRV/incoming" \
    "$WORK/pgbr/repo" "$WORK/pgbr/log" "$WORK/pgbr/lock"
  chmod 700 "$WORK/cellar" "$WORK/barman"
  chown -R postgres: "$WORK"
  "${AS_PG[@]}" env -C / "$PG_BIN/initdb" -D "$WORK/pg/data" -A trust >/dev/null
  cat >> "$WORK/pg/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$WORK/pg'
port = $PORT
wal_level = replica
max_wal_senders = 10
max_wal_size = 4GB
archive_mode = on
archive_command = '/bin/true'
CONF
  "${AS_PG[@]}" env -C / "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w start >/dev/null
  bench_write_configs
}

bench_write_configs() {
  local ci="host=$WORK/pg port=$PORT user=postgres dbname=postgres"
  cat > "$WORK/cellar.toml" <<CONF
[global]
home = "$WORK/cellar"
log_file = ""
[servers.$SRV]
conninfo = "$ci"
reuse_backup = "off"
parallel_jobs = 2
CONF
  cat > "$WORK/barman.conf" <<CONF
[barman]
barman_user = postgres
barman_home = $WORK/barman
log_file = $WORK/barman/barman.log
log_level = WARNING
[$SRV]
conninfo = $ci
streaming_conninfo = $ci
backup_method = postgres
archiver = on
streaming_archiver = off
immediate_checkpoint = true
path_prefix = $PG_BIN
CONF
  cat > "$WORK/pgbackrest.conf" <<CONF
[global]
repo1-path=$WORK/pgbr/repo
repo1-retention-full=100
log-path=$WORK/pgbr/log
lock-path=$WORK/pgbr/lock
log-level-console=warn
log-level-file=off
process-max=2
start-fast=y
archive-check=n
[$SRV]
pg1-path=$WORK/pg/data
pg1-socket-path=$WORK/pg
pg1-port=$PORT
CONF
  chown postgres: "$WORK/cellar.toml" "$WORK/barman.conf" "$WORK/pgbackrest.conf"
}

# Command prefixes (arrays, so that /usr/bin/time can run them) and wrappers.
bench_commands() {
  CELLAR_CMD=("${AS_PG[@]}" env -C / "$CELLAR" -c "$WORK/cellar.toml")
  BARMAN_CMD=("${AS_PG[@]}" env -C / barman -c "$WORK/barman.conf")
  PGBR_CMD=("${AS_PG[@]}" env -C / pgbackrest --config="$WORK/pgbackrest.conf" --stanza="$SRV")
  PGBB_CMD=("${AS_PG[@]}" env -C / "$PG_BIN/pg_basebackup" -h "$WORK/pg" -p "$PORT" -U postgres)
}
cellar_() { "${CELLAR_CMD[@]}" "$@"; }
barman_() { "${BARMAN_CMD[@]}" "$@"; }
pgbr_() { "${PGBR_CMD[@]}" "$@"; }

# Scale in GB (may be fractional) -> dataset loaded and checkpointed.
bench_load() {  # pgbench|random SCALE_GB
  local kind=$1 gb=$2
  case $kind in
    pgbench)
      local s; s=$(awk -v g="$gb" 'BEGIN {s = int(g * 70 + 0.5); print (s < 1 ? 1 : s)}')
      "$PG_BIN/pgbench" -h "$WORK/pg" -p "$PORT" -U postgres -i -q -s "$s" postgres >/dev/null 2>&1 ;;
    random)
      # ~1.85 kB a row, 4 rows a page: 1.4 kB of random bytes plus 400
      # characters of base64 of random bytes (compressible to 75% at best),
      # stored uncompressed (STORAGE EXTERNAL, below the TOAST threshold anyway).
      local rows; rows=$(awk -v g="$gb" 'BEGIN {printf "%d", g * 1073741824 / 1900}')
      psql_ -c "CREATE EXTENSION IF NOT EXISTS pgcrypto" \
            -c "CREATE TABLE rnd(id bigint, b bytea, t text)" \
            -c "ALTER TABLE rnd ALTER b SET STORAGE EXTERNAL, ALTER t SET STORAGE EXTERNAL"
      local done_=0 n
      while [ "$done_" -lt "$rows" ]; do
        n=$(( rows - done_ < 100000 ? rows - done_ : 100000 ))
        psql_ -c "INSERT INTO rnd SELECT g, gen_random_bytes(1024) || gen_random_bytes(400),
                    replace(encode(gen_random_bytes(300), 'base64'), E'\n', '')
                  FROM generate_series($done_ + 1, $done_ + $n) g"
        done_=$((done_ + n))
      done ;;
  esac
  psql_ -c "VACUUM ANALYZE" -c "CHECKPOINT"
  # Real archiving from now on, and one segment archived by each catalogue
  # (Barman refuses a first backup before it has seen archived WAL).
  local st=$WORK/stage c=$WORK/cellar/$SRV/incoming b=$WORK/barman/$SRV/incoming
  psql_ -c "ALTER SYSTEM SET archive_command = 'cp %p $st/%f && ln -f $st/%f $c/%f && ln -f $st/%f $b/%f && rm $st/%f'" \
        -c "SELECT pg_reload_conf()" >/dev/null
  sleep 1
  bench_switch_wal_and_archive
  barman_ check "$SRV" >/dev/null || { barman_ check "$SRV"; return 1; }
  pgbr_ stanza-create >/dev/null
}

bench_switch_wal_and_archive() {
  local seg
  seg=$(psql_ -c "CREATE TABLE IF NOT EXISTS _switch(x int)" -c "INSERT INTO _switch VALUES (1)" \
              -c "SELECT pg_walfile_name(pg_switch_wal())")
  until [ -e "$WORK/cellar/$SRV/incoming/$seg" ] || [ -e "$WORK/cellar/$SRV/wals/${seg:0:16}/$seg" ]; do sleep 0.1; done
  until [ -e "$WORK/barman/$SRV/incoming/$seg" ] || [ -n "$(ls "$WORK/barman/$SRV/wals/${seg:0:16}/" 2>/dev/null | grep "$seg")" ]; do sleep 0.1; done
  cellar_ -q archive-wal "$SRV"
  barman_ -q archive-wal "$SRV" >/dev/null
}

db_size() { psql_ -c "SELECT pg_size_pretty(sum(pg_database_size(oid))) FROM pg_database"; }

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }

# Runs "$@" under /usr/bin/time; sets T_SECS and T_RSS_KB (peak RSS of the
# largest single process of the tree, which is what getrusage reports).
timed() {
  local out=$WORK/time.out
  /usr/bin/time -f '%e %M' -o "$out" "$@"
  read -r T_SECS T_RSS_KB < "$out"
}

du_bytes() { du -s --block-size=1 "$@" | awk '{s += $1} END {printf "%.0f\n", s}'; }

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
