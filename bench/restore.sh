#!/usr/bin/env bash
# Restore benchmark: time to restore the same database's full backup into an
# empty directory, cellar recover (--jobs 1 and 2) vs pgBackRest restore
# (process-max 2) vs Barman recover (local, rsync), medians of RUNS runs, on
# the datasets of bench/backup.sh. The backups are taken once per dataset,
# untimed: cellar (none and zstd, --wait: DONE), pgBackRest (compress-type
# none and zst, archive-check=n), Barman (--wait: DONE, uncompressed, the
# only form its postgres method stores plainly). Caches are dropped before
# each restore; the tools' order rotates from run to run.
#
# What each restore does besides the files:
#   cellar recover: copies the WAL recovery needs into DEST/cellar_wal,
#     writes recovery.signal and the settings, fsyncs DEST
#   pgbackrest restore: writes restore_command (archive-get, no WAL copied),
#     fsyncs the files it writes
#   barman recover: copies the WAL into DEST/pg_wal, no fsync of DEST
# Wall time, peak RSS (/usr/bin/time %M) and du of DEST.
#
# Usage: bench/restore.sh [BUILD_DIR] [RUNS] [SCALE_GB]   (as root)
#   env: DATASETS="pgbench random"  TOOLS="cellar_none_j1 cellar_none_j2
#        cellar_zstd_j1 cellar_zstd_j2 pgbr_none pgbr_zst barman"
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-3}
SCALE_GB=${3:-1}
DATASETS=${DATASETS:-pgbench random}
TOOLS=${TOOLS:-cellar_none_j1 cellar_none_j2 cellar_zstd_j1 cellar_zstd_j2 pgbr_none pgbr_zst barman}
case $BUILD in /*) CELLAR=$BUILD/cellar ;; *) CELLAR=$PWD/$BUILD/cellar ;; esac
source bench/peers_lib.sh

[ "$(id -u)" = 0 ] || { echo "ERROR: run as root" >&2; exit 1; }
[ -x "$CELLAR" ] || { echo "ERROR: $CELLAR not built (ninja -C $BUILD cellar)" >&2; exit 1; }
bench_install_peers
bench_init
trap bench_cleanup EXIT
read -ra tools <<< "$TOOLS"
has() { case " $TOOLS " in *" $1 "*) return 0 ;; esac; return 1; }
if has cellar_none_j1 || has cellar_none_j2 || has cellar_zstd_j1 || has cellar_zstd_j2; then
  if ! "$CELLAR" recover --help >/dev/null 2>&1; then
    echo "ERROR: this cellar has no 'recover' command yet; run the peers alone with" >&2
    echo "  TOOLS='pgbr_none pgbr_zst barman' $0 $*" >&2
    exit 1
  fi
fi

declare -A backup_of   # tool family -> backup id / pgBackRest label

take_backups() {
  local c out=$WORK/out.backup
  for c in none zstd; do
    has "cellar_${c}_j1" || has "cellar_${c}_j2" || continue
    cellar_ backup "$SRV" --compression "$c" --jobs 2 --immediate-checkpoint --no-progress \
      --wait --wait-timeout 600 > "$out"
    backup_of[cellar_$c]=$(sed -n "s/^Backup \([0-9T]*\) of server .* is .*/\1/p" "$out")
  done
  for c in none zst; do
    has "pgbr_$c" || continue
    pgbr_ backup --type=full --compress-type="$c"
    backup_of[pgbr_$c]=$(pgbr_ info --output=json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["backup"][-1]["label"])')
  done
  if has barman; then
    barman_ -q backup "$SRV" --wait >/dev/null
    backup_of[barman]=$(barman_ list-backups "$SRV" --minimal | head -1)
  fi
  for c in "${!backup_of[@]}"; do echo "# backup $c: ${backup_of[$c]}"; done
}

# One restore with tool $1 into a new directory; sets T_SECS, T_RSS_KB, SIZE.
restore_with() {
  local tool=$1 dest=$WORK/restore
  rm -rf "$dest"
  case $tool in
    cellar_*)
      local family=${tool%_j*} jobs=${tool##*_j}
      timed "${CELLAR_CMD[@]}" -q recover "$SRV" "${backup_of[$family]}" "$dest" --jobs "$jobs" --get-wal --no-progress ;;
    pgbr_*)
      "${AS_PG[@]}" mkdir -m 700 "$dest"
      timed "${PGBR_CMD[@]}" restore --pg1-path="$dest" --set="${backup_of[$tool]}" ;;
    barman)
      timed "${BARMAN_CMD[@]}" -q recover "$SRV" "${backup_of[barman]}" "$dest" ;;
    *) echo "ERROR: unknown tool $tool" >&2; return 1 ;;
  esac
  [ -f "$dest/PG_VERSION" ] && [ -d "$dest/base" ] || { echo "ERROR: $tool restored no PGDATA" >&2; return 1; }
  SIZE=$(du_bytes "$dest")
  rm -rf "$dest"
}

label() {
  case $1 in
    cellar_*) echo "cellar recover, ${1#cellar_}" | sed 's/_j\([0-9]*\)$/, --jobs \1/' ;;
    pgbr_*) echo "pgBackRest restore, ${1#pgbr_}, process-max 2" ;;
    barman) echo "Barman 3.4 recover (rsync)" ;;
  esac
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }

echo "# $(uname -srm), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(findmnt -no FSTYPE -T "$WORK") at $WORK"
echo "# $(bench_versions)"
echo "# runs: $RUNS, scale: $SCALE_GB GB, datasets: $DATASETS"
raw=$WORK/raw
: > "$raw"
for ds in $DATASETS; do
  bench_new_cluster
  echo "# loading $ds ($SCALE_GB GB)..."
  bench_load "$ds" "$SCALE_GB"
  echo "# $ds: databases $(db_size)"
  backup_of=()
  take_backups
  for run in $(seq 1 "$RUNS"); do
    n=${#tools[@]}
    for k in $(seq 0 $((n - 1))); do
      tool=${tools[$(( (k + run - 1) % n ))]}
      drop_caches
      restore_with "$tool"
      echo "$ds $run $tool $T_SECS $T_RSS_KB $SIZE" | tee -a "$raw"
    done
  done
done

med() { awk -v d="$1" -v t="$2" -v c="$3" '$1 == d && $3 == t {print $c}' "$raw" | median; }
for ds in $DATASETS; do
  echo
  echo "### $ds, medians of $RUNS run(s)"
  echo
  echo "| tool | time (s) | restored (MiB) | peak RSS (MiB) |"
  echo "|---|---|---|---|"
  for tool in "${tools[@]}"; do
    echo "| $(label "$tool") | $(med "$ds" "$tool" 4) | $(awk -v b="$(med "$ds" "$tool" 6)" 'BEGIN {printf "%.0f", b / 1048576}') | $(awk -v k="$(med "$ds" "$tool" 5)" 'BEGIN {printf "%.1f", k / 1024}') |"
  done
  echo
  for j in 1 2; do
    if has "cellar_zstd_j$j" && has pgbr_zst; then
      echo "- cellar zstd --jobs $j / pgBackRest zst: $(ratio "$(med "$ds" "cellar_zstd_j$j" 4)" "$(med "$ds" pgbr_zst 4)") (target <= 0.5)"
    fi
    if has "cellar_none_j$j" && has pgbr_none; then
      echo "- cellar none --jobs $j / pgBackRest none: $(ratio "$(med "$ds" "cellar_none_j$j" 4)" "$(med "$ds" pgbr_none 4)") (target <= 0.5)"
    fi
  done
done
