#!/usr/bin/env bash
# Incremental-backup benchmark (docs/incremental.md), one run side by side on
# a pgbench database of SCALE_GB (default 1 GB):
#
#   1. full backups of every tool (cellar lz4; pgBackRest lz4, plain and with
#      --repo-block --repo-bundle, a beta feature in 2.45 (--beta); Barman 3.4),
#   2. pgbench touching about 1% of the accounts,
#   3. timed: cellar --incremental, cellar full, pgBackRest --type=incr (both
#      repositories), Barman backup (reuse_backup = link; its postgres method
#      copies everything anyway): time, bytes read from the server, bytes
#      stored,
#   4. four more rounds of a small change and a cellar incremental (a chain
#      of five), then a cellar full of the same state: restore time of the
#      chain's end vs that full (--target-immediate, caches dropped),
#   5. when recover has --delta: DEST restored from that full, 1% more
#      change, a new full; delta restore of it into DEST vs a restore into
#      an empty directory.
#
# cellar backups run with --wait (an incremental builds on a DONE backup;
# WAL comes through archive_command and archive-wal, see peers_lib.sh).
# Bytes read from the server: cellar incremental: copy_stats read_bytes (what
# pg_read_binary_file returned); BASE_BACKUP-based (cellar full, Barman):
# the cluster size; pgBackRest: its info's `delta` (the files it copied,
# which it reads whole; pgBackRest reads PGDATA directly, not through
# PostgreSQL). Bytes stored: du of what the backup added to the repository.
#
# Usage: bench/incremental.sh [BUILD_DIR] [SCALE_GB]   (as root)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SCALE_GB=${2:-1}
case $BUILD in /*) CELLAR=$BUILD/cellar ;; *) CELLAR=$PWD/$BUILD/cellar ;; esac
source bench/peers_lib.sh

[ "$(id -u)" = 0 ] || { echo "ERROR: run as root" >&2; exit 1; }
[ -x "$CELLAR" ] || { echo "ERROR: $CELLAR not built (ninja -C $BUILD cellar)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "ERROR: python3 is needed to read pgBackRest's JSON" >&2; exit 1; }
bench_install_peers
bench_init
trap bench_cleanup EXIT

mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.3f", a / b; else print "-"}'; }
pgbench_() { "$PG_BIN/pgbench" -h "$WORK/pg" -p "$PORT" -U postgres "$@" postgres >/dev/null 2>&1; }
accounts() { psql_ -c "SELECT count(*) FROM pgbench_accounts"; }
# About `pct` percent of the accounts updated (pgbench's tpcb: one account a transaction).
touch_pct() { pgbench_ -n -c 2 -j 2 -t "$(awk -v n="$(accounts)" -v p="$1" 'BEGIN {printf "%d", n * p / 100 / 2}')"; }
info_of() { cat "$WORK/cellar/$SRV/base/$1/backup.info"; }
key_of() { info_of "$1" | sed -n "s/^$2=//p"; }
read_bytes_of() { key_of "$1" copy_stats | sed -n "s/.*'read_bytes': \([0-9]*\).*/\1/p"; }

# A second pgBackRest repository for block incremental (repo-block needs repo-bundle).
PGBR_BLOCK=0
# 2.45: block incremental is a beta feature (--beta on the command line).
PGBR_BLOCK_CMD=()
pgbr_block_() { "${PGBR_BLOCK_CMD[@]}" "$@"; }
setup_block_repo() {
  PGBR_BLOCK_CMD=("${AS_PG[@]}" env -C / pgbackrest --config="$WORK/pgbackrest-block.conf" --stanza="$SRV" --beta)
  mkdir -p "$WORK/pgbr-block/repo"
  sed "s#$WORK/pgbr/repo#$WORK/pgbr-block/repo#" "$WORK/pgbackrest.conf" > "$WORK/pgbackrest-block.conf"
  printf 'repo1-bundle=y\nrepo1-block=y\n' >> "$WORK/pgbackrest-block.conf"
  chown -R postgres: "$WORK/pgbr-block" "$WORK/pgbackrest-block.conf"
  if pgbr_block_ stanza-create > "$WORK/block.out" 2>&1 &&
    pgbr_block_ backup --type=full --compress-type=lz4 >> "$WORK/block.out" 2>&1; then PGBR_BLOCK=1; fi
}
pgbr_delta() {  # the newest backup's info.delta in a repository
  "$@" info --output=json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["backup"][-1]["info"]["delta"])'
}
pgbr_label() { "$@" info --output=json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["backup"][-1]["label"])'; }

# One cellar backup; sets ID (and T_SECS, T_RSS_KB). $@: extra options.
cellar_backup() {
  cellar_ -q archive-wal "$SRV"
  timed "${CELLAR_CMD[@]}" backup "$SRV" --compression lz4 --jobs 2 --immediate-checkpoint --wait --no-progress "$@" \
    > "$WORK/out.cellar" 2> "$WORK/err.cellar"
  grep -q WARNING "$WORK/err.cellar" && { cat "$WORK/err.cellar" >&2; }
  ID=$(sed -n "s/^Backup \([0-9T]*\) of server .* is .*/\1/p" "$WORK/out.cellar")
}

row() { echo "| $1 | $2 | $(mib "$3") | $(mib "$4") |"; }

echo "# $(uname -srm), $(nproc) CPUs, $(findmnt -no FSTYPE -T /tmp) at /tmp"
echo "# $(bench_versions)"
bench_new_cluster
sed -i "s|^log_file = \"\"|log_file = \"$WORK/cellar.log\"|" "$WORK/cellar.toml"
echo "# loading pgbench ($SCALE_GB GB)..."
bench_load pgbench "$SCALE_GB"
setup_block_repo
echo "# databases: $(db_size); pgBackRest block incremental: $([ $PGBR_BLOCK = 1 ] && echo accepted || echo "refused: $(tr '\n' ' ' < "$WORK/block.out")")"
cluster=$(psql_ -c "SELECT sum(pg_database_size(oid)) FROM pg_database")

# 1. The full backups everything builds on (untimed).
cellar_backup --full; full1=$ID
pgbr_ backup --type=full --compress-type=lz4 >/dev/null
barman_ -q archive-wal "$SRV" >/dev/null
barman_ -q backup "$SRV" >/dev/null

# The same 1% of accounts in one aid range: about 1% of the table's pages
# (plus the pages the new row versions go to and the index pages).
touch_range() {  # percent
  local n from count
  n=$(accounts)
  count=$(awk -v n="$n" -v p="$1" 'BEGIN {printf "%d", n * p / 100}')
  from=$(( (RANDOM * 32768 + RANDOM) % (n - count) + 1 ))
  psql_ -c "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid BETWEEN $from AND $((from + count - 1))"
}

# 2-3. A change, then every tool's backup of it, timed.
compare_backups() {  # title, change command...
  local title=$1
  shift
  "$@"
  psql_ -c CHECKPOINT
  echo
  echo "### Backup after $title (pgbench, $SCALE_GB GB)"
  echo
  echo "| tool | time (s) | read from the server (MiB) | stored (MiB) |"
  echo "|---|---|---|---|"
  : > "$WORK/cellar.log"
  drop_caches
  cellar_backup --incremental; local incr=$ID t_incr=$T_SECS
  row "cellar --incremental (lz4)" "$T_SECS" "$(read_bytes_of "$incr")" "$(du_bytes "$WORK/cellar/$SRV/base/$incr")"
  grep -h "changed-block map\|incremental copy:" "$WORK/cellar.log" | sed 's/^.* info backup: /# /' > "$WORK/incr.notes" || true
  drop_caches
  cellar_backup --full; FULL=$ID; local t_full=$T_SECS
  row "cellar full (lz4)" "$T_SECS" "$cluster" "$(du_bytes "$WORK/cellar/$SRV/base/$FULL")"
  drop_caches
  local before
  before=$(du_bytes "$WORK/pgbr/repo/backup")
  timed "${PGBR_CMD[@]}" backup --type=incr --compress-type=lz4
  row "pgBackRest 2.45 --type=incr (lz4)" "$T_SECS" "$(pgbr_delta pgbr_)" "$(( $(du_bytes "$WORK/pgbr/repo/backup") - before ))"
  if [ $PGBR_BLOCK = 1 ]; then
    drop_caches
    before=$(du_bytes "$WORK/pgbr-block/repo/backup")
    timed "${PGBR_BLOCK_CMD[@]}" backup --type=incr --compress-type=lz4
    row "pgBackRest 2.45 --type=incr --repo-block --repo-bundle (lz4)" "$T_SECS" "$(pgbr_delta pgbr_block_)" \
      "$(( $(du_bytes "$WORK/pgbr-block/repo/backup") - before ))"
  fi
  drop_caches
  barman_ -q archive-wal "$SRV" >/dev/null
  before=$(du_bytes "$WORK/barman/$SRV/base")
  timed "${BARMAN_CMD[@]}" -q backup "$SRV"
  row "Barman 3.4 (postgres, reuse_backup = link)" "$T_SECS" "$cluster" "$(( $(du_bytes "$WORK/barman/$SRV/base") - before ))"
  echo
  cat "$WORK/incr.notes"
  echo
  echo "- cellar incremental / cellar full time: $(ratio "$t_incr" "$t_full") (target <= 0.10)"
  echo "- changed blocks (the map): $(sed -n 's/.* \([0-9]*\) changed blocks.*/\1/p' "$WORK/incr.notes") of $(( cluster / 8192 )) in the cluster"
}
# The range first, while the table has no free space left by earlier updates
# (the new row versions then go to new pages at its end).
compare_backups "updating 1% of the accounts in one aid range" touch_range 1
compare_backups "pgbench updating about 1% of the accounts at random" touch_pct 1
full2=$FULL

# 4. A chain of five, and a full of the same state.
for k in 2 3 4 5; do
  touch_range 0.2
  cellar_backup --incremental; last=$ID
done
chain_end=$last
cellar_backup --full; full3=$ID
restore_time() {  # BACKUP [options] -> T_SECS
  local dest=$WORK/restore
  rm -rf "$dest"
  drop_caches
  timed "${CELLAR_CMD[@]}" recover "$SRV" "$1" "$dest" --target-immediate --jobs 2 --no-progress "${@:2}" > /dev/null
}
echo
echo "### Restore: the end of a five-backup chain vs a full backup of the same state"
echo
echo "| restore | time (s) |"
echo "|---|---|"
restore_time "$chain_end"; t_chain=$T_SECS
echo "| cellar recover, chain end ($chain_end, the 4th incremental on full $full2) | $t_chain |"
restore_time "$full3"; t_full3=$T_SECS
echo "| cellar recover, full ($full3) | $t_full3 |"
echo
echo "- chain end / full restore: $(ratio "$t_chain" "$t_full3") (target <= 1.2)"

# 5. Delta restore.
if "$CELLAR" recover --help 2>&1 | grep -q -- --delta; then
  dest=$WORK/delta
  rm -rf "$dest"
  cellar_ recover "$SRV" "$full3" "$dest" --target-immediate --jobs 2 --no-progress > /dev/null
  chown -R postgres: "$dest"
  touch_range 1
  cellar_backup --full; full4=$ID
  drop_caches
  timed "${CELLAR_CMD[@]}" recover --delta "$SRV" "$full4" "$dest" --target-immediate --jobs 2 --no-progress > "$WORK/delta.out"
  t_delta=$T_SECS
  restore_time "$full4"; t_plain=$T_SECS
  echo
  echo "### Delta restore after 1% of the accounts (one range) changed"
  echo
  echo "| restore | time (s) |"
  echo "|---|---|"
  echo "| cellar recover --delta into the previous restore | $t_delta |"
  echo "| cellar recover into an empty directory | $t_plain |"
  echo
  echo "- delta / full restore: $(ratio "$t_delta" "$t_plain") (target <= 0.25)"
  grep -E "^(Delta|Restore stamp|Comparing changed files whole):" "$WORK/delta.out" | sed 's/^/- /' || true
else
  echo
  echo "- recover --delta: not in this build"
fi
