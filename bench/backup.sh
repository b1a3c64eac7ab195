#!/usr/bin/env bash
# Full-backup benchmark: cellar backup vs pg_basebackup (plain; tar with client
# zstd), Barman 3.4 (backup_method = postgres) and pgBackRest 2.45
# (process-max 2; lz4 and zst), on (a) a pgbench database and (b) a poorly
# compressible one (random bytea plus base64 text). Wall time, size on disk
# (du of what the tool stored for that backup) and peak RSS (/usr/bin/time %M:
# the largest single process of the tool's tree). Medians of RUNS runs; the
# tools' order rotates from run to run; caches are dropped and PostgreSQL
# checkpointed before each measurement.
#
# Every tool stops when the backup's files are durable, none waits for WAL:
#   cellar backup --jobs 2 --immediate-checkpoint (no --wait: it ends in
#     WAITING_FOR_WALS after fsyncing the files; its one archive-wal pass and
#     the restore point + pg_switch_wal it does are included)
#   pg_basebackup -X none -c fast (fsync on, its default)
#   barman backup (no --wait: WAITING_FOR_WALS; Barman runs pg_basebackup
#     -X none --no-slot -c fast and fsyncs nothing itself)
#   pgbackrest backup --type=full with start-fast, archive-check=n
# WAL is archived by archive_command into cellar's and Barman's incoming/
# (see bench/peers_lib.sh), and each catalogue's archive-wal runs untimed
# before its measurement.
#
# Usage: bench/backup.sh [BUILD_DIR] [RUNS] [SCALE_GB]   (as root)
#   env: DATASETS="pgbench random"  TOOLS="cellar_none cellar_zstd pgbb_plain
#        pgbb_tar_zstd barman pgbr_lz4 pgbr_zst"
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-3}
SCALE_GB=${3:-1}
DATASETS=${DATASETS:-pgbench random}
TOOLS=${TOOLS:-cellar_none cellar_zstd pgbb_plain pgbb_tar_zstd barman pgbr_lz4 pgbr_zst}
case $BUILD in /*) CELLAR=$BUILD/cellar ;; *) CELLAR=$PWD/$BUILD/cellar ;; esac
source bench/peers_lib.sh

[ "$(id -u)" = 0 ] || { echo "ERROR: run as root" >&2; exit 1; }
[ -x "$CELLAR" ] || { echo "ERROR: $CELLAR not built (ninja -C $BUILD cellar)" >&2; exit 1; }
bench_install_peers
bench_init
trap bench_cleanup EXIT

# One backup with tool $1; sets T_SECS, T_RSS_KB and SIZE, then removes it.
backup_with() {
  local tool=$1 out=$WORK/out.$1 id
  case $tool in
    cellar_*)
      cellar_ -q archive-wal "$SRV"
      timed "${CELLAR_CMD[@]}" backup "$SRV" --compression "${tool#cellar_}" --jobs 2 \
        --immediate-checkpoint --no-progress > "$out"
      id=$(sed -n "s/^Backup \([0-9T]*\) of server .* is .*/\1/p" "$out")
      SIZE=$(du_bytes "$WORK/cellar/$SRV/base/$id")
      cellar_ -q delete "$SRV" "$id" || rm -rf "$WORK/cellar/$SRV/base/$id" ;;
    pgbb_plain)
      timed "${PGBB_CMD[@]}" -D "$out" -Fp -X none -c fast
      SIZE=$(du_bytes "$out"); rm -rf "$out" ;;
    pgbb_tar_zstd)
      timed "${PGBB_CMD[@]}" -D "$out" -Ft -Z client-zstd -X none -c fast
      SIZE=$(du_bytes "$out"); rm -rf "$out" ;;
    barman)
      barman_ -q archive-wal "$SRV" >/dev/null
      timed "${BARMAN_CMD[@]}" -q backup "$SRV"
      id=$(barman_ list-backups "$SRV" --minimal | head -1)
      SIZE=$(du_bytes "$WORK/barman/$SRV/base/$id")
      barman_ -q delete "$SRV" "$id" >/dev/null ;;
    pgbr_*)
      rm -rf "$WORK/pgbr/repo/archive" "$WORK/pgbr/repo/backup"
      pgbr_ stanza-create >/dev/null
      timed "${PGBR_CMD[@]}" backup --type=full --compress-type="${tool#pgbr_}"
      SIZE=$(du_bytes "$WORK"/pgbr/repo/backup/"$SRV"/*F)
      rm -rf "$WORK/pgbr/repo/archive" "$WORK/pgbr/repo/backup" ;;
    *) echo "ERROR: unknown tool $tool" >&2; return 1 ;;
  esac
}

label() {
  case $1 in
    cellar_none) echo "cellar, none, --jobs 2" ;;
    cellar_zstd) echo "cellar, zstd, --jobs 2" ;;
    pgbb_plain) echo "pg_basebackup -Fp" ;;
    pgbb_tar_zstd) echo "pg_basebackup -Ft -Z client-zstd" ;;
    barman) echo "Barman 3.4 (postgres)" ;;
    pgbr_lz4) echo "pgBackRest, lz4, process-max 2" ;;
    pgbr_zst) echo "pgBackRest, zst, process-max 2" ;;
  esac
}

mib() { awk -v b="$1" 'BEGIN {printf "%.0f", b / 1048576}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }

echo "# $(uname -srm), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(findmnt -no FSTYPE -T "$WORK") at $WORK"
echo "# $(bench_versions)"
echo "# runs: $RUNS, scale: $SCALE_GB GB, datasets: $DATASETS"
read -ra tools <<< "$TOOLS"
raw=$WORK/raw
: > "$raw"
for ds in $DATASETS; do
  bench_new_cluster
  echo "# loading $ds ($SCALE_GB GB)..."
  bench_load "$ds" "$SCALE_GB"
  echo "# $ds: databases $(db_size)"
  for run in $(seq 1 "$RUNS"); do
    n=${#tools[@]}
    for k in $(seq 0 $((n - 1))); do
      tool=${tools[$(( (k + run - 1) % n ))]}
      psql_ -c CHECKPOINT
      drop_caches
      backup_with "$tool"
      echo "$ds $run $tool $T_SECS $T_RSS_KB $SIZE" | tee -a "$raw"
    done
  done
done

has() { case " $TOOLS " in *" $1 "*) return 0 ;; esac; return 1; }
med() { awk -v d="$1" -v t="$2" -v c="$3" '$1 == d && $3 == t {print $c}' "$raw" | median; }
for ds in $DATASETS; do
  echo
  echo "### $ds, medians of $RUNS run(s)"
  echo
  echo "| tool | time (s) | size (MiB) | peak RSS (MiB) |"
  echo "|---|---|---|---|"
  for tool in "${tools[@]}"; do
    echo "| $(label "$tool") | $(med "$ds" "$tool" 4) | $(mib "$(med "$ds" "$tool" 6)") | $(awk -v k="$(med "$ds" "$tool" 5)" 'BEGIN {printf "%.1f", k / 1024}') |"
  done
  echo
  if has cellar_none && has pgbb_plain; then
    echo "- cellar none / pg_basebackup -Fp time: $(ratio "$(med "$ds" cellar_none 4)" "$(med "$ds" pgbb_plain 4)") (target <= 1.0)"
  fi
  if has cellar_zstd && has pgbr_zst; then
    echo "- cellar zstd / pgBackRest zst time: $(ratio "$(med "$ds" cellar_zstd 4)" "$(med "$ds" pgbr_zst 4)") (target <= 0.6), size: $(ratio "$(med "$ds" cellar_zstd 6)" "$(med "$ds" pgbr_zst 6)") (target <= 1.0)"
  fi
  echo "- peak RSS target for cellar: <= 64 MiB"
done
