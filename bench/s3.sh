#!/usr/bin/env bash
# S3 benchmark: full backup to, and restore from, an S3 repository, side by
# side in one run against the same server: cellar (repository =
# "s3://bench/cellar", zstd and none, parallel_jobs 2, upload_concurrency 8)
# vs pgBackRest 2.45 (repo1-type=s3, process-max 2, lz4 and zst) vs Barman
# 3.4's barman-cloud-backup / barman-cloud-restore (-J 2, uncompressed; it
# compresses only with gzip, bzip2 or snappy, see TOOLS). The server is a
# single-node OpenStack Swift with its S3 API behind TLS on 127.0.0.1
# (bench/s3_swift.sh): pgBackRest 2.45 speaks only HTTPS to S3, so every tool
# uses the same https:// endpoint. Datasets and PostgreSQL as in
# bench/backup.sh (bench/peers_lib.sh).
#
# Backup phase: each tool backs up, timed, RUNS times (order rotating, caches
# dropped and a CHECKPOINT first); the stored size is the sum of the object
# sizes under that backup's prefix (a ListObjectsV2 listing: cellar
# PREFIX/bench/base/ID/, pgBackRest backup/bench/LABEL/, Barman
# bench/base/ID/; WAL and catalogue files outside them are not counted).
# cellar's backup is then deleted (cellar delete); pgBackRest's and Barman's
# full backups stay, independent of each other. No tool waits for WAL: cellar
# backup without --wait (its restore point, pg_switch_wal and one archive-wal
# pass, which uploads the segments, are included), pgbackrest backup
# --type=full with start-fast and archive-check=n, barman-cloud-backup (no
# WAL archiving of its own). The bucket is emptied for each dataset.
#
# Restore phase: each tool restores its own backup into an empty directory:
# pgBackRest and Barman their newest from the backup phase, cellar one taken
# untimed with --wait (recover wants DONE), RUNS times (order rotating,
# caches dropped first): cellar recover
# --get-wal (copies no WAL, like pgBackRest's archive-get restore_command),
# pgbackrest restore, barman-cloud-restore (untars; no WAL). The script checks
# that DEST has PG_VERSION and base/; it does not start PostgreSQL on it.
#
# Wall time and peak RSS (/usr/bin/time %M: the largest single process of the
# tool's tree; the Swift servers are not part of it).
#
# Usage: bench/s3.sh [BUILD_DIR] [RUNS] [SCALE_GB]   (as root, Debian 12)
#   env: DATASETS="pgbench random"  PHASES="backup restore"
#        TOOLS="cellar_none cellar_zstd pgbr_lz4 pgbr_zst barman_none" (barman_gzip
#          is there too, not by default: Python's tarfile streams gzip at
#          level 9, about 2 minutes for the pgbench GB)
#        S3_PORT=29380 (and the three ports above it)  SWIFT_WORKERS=2
# Without a cellar tool in TOOLS no cellar binary is needed (peers only).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-3}
SCALE_GB=${3:-1}
DATASETS=${DATASETS:-pgbench random}
PHASES=${PHASES:-backup restore}
TOOLS=${TOOLS:-cellar_none cellar_zstd pgbr_lz4 pgbr_zst barman_none}
S3_PORT=${S3_PORT:-29380}
SWIFT_WORKERS=${SWIFT_WORKERS:-2}
BUCKET=bench
case $BUILD in /*) CELLAR=$BUILD/cellar ;; *) CELLAR=$PWD/$BUILD/cellar ;; esac
BENCH_DIR=$PWD/bench
source bench/peers_lib.sh
source bench/s3_swift.sh

has() { case " $TOOLS " in *" $1 "*) return 0 ;; esac; return 1; }
has_cellar() { case " $TOOLS " in *" cellar_"*) return 0 ;; esac; return 1; }

[ "$(id -u)" = 0 ] || { echo "ERROR: run as root" >&2; exit 1; }
if has_cellar; then
  [ -x "$CELLAR" ] || { echo "ERROR: $CELLAR not built (ninja -C $BUILD cellar)" >&2; exit 1; }
else
  # Peers only: bench/peers_lib.sh's loading still calls cellar archive-wal.
  CELLAR=/bin/true
fi
bench_install_peers
missing=()
command -v barman-cloud-backup >/dev/null || missing+=(barman-cli-cloud)
/usr/bin/python3 -c 'import boto3' 2>/dev/null || missing+=(python3-boto3)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null
fi

bench_init
# Swift's directory is not under WORK: bench_new_cluster hands WORK to postgres.
SWIFT_DIR=$(mktemp -d /tmp/cellar-bench-swift-XXXXXX)
s3_cleanup() {
  swift_stop "$SWIFT_DIR"
  rm -rf "$SWIFT_DIR"
  bench_cleanup
}
trap s3_cleanup EXIT
if ss -Hltn "( sport = :$S3_PORT or sport = :$((S3_PORT + 1)) or sport = :$((S3_PORT + 2)) or sport = :$((S3_PORT + 3)) )" | grep -q .; then
  echo "ERROR: port $S3_PORT..$((S3_PORT + 3)) in use; set S3_PORT" >&2
  exit 1
fi
swift_start "$SWIFT_DIR" "$S3_PORT" "$SWIFT_WORKERS"   # -> S3_ENDPOINT, S3_CA

# Credentials for boto3 (Barman, the listing helper) through the environment
# only; botocore verifies the server against AWS_CA_BUNDLE. A private AWS
# config pins path-style addressing (botocore picks it for an IP endpoint
# anyway) and keeps ~/.aws out of the measurement.
cat > "$WORK/aws-config" <<CONF
[default]
region = us-east-1
s3 =
    addressing_style = path
CONF
AWS_ENV=(AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
         AWS_CA_BUNDLE="$S3_CA" AWS_CONFIG_FILE="$WORK/aws-config"
         AWS_SHARED_CREDENTIALS_FILE=/dev/null S3_ENDPOINT="$S3_ENDPOINT")
objects() { env "${AWS_ENV[@]}" /usr/bin/python3 "$BENCH_DIR/s3_objects.py" "$@"; }
s3_bytes() { objects size "$BUCKET" "$1" | cut -d' ' -f1; }
objects mkbucket "$BUCKET"
printf 'testing\n' > "$WORK/s3-secret"
chown postgres: "$WORK/s3-secret" "$WORK/aws-config"
chmod 600 "$WORK/s3-secret"

# bench/peers_lib.sh writes local catalogues; the cellar and pgBackRest ones
# are replaced by S3 ones (Barman's local catalogue stays: bench_load checks it).
eval "local_$(declare -f bench_write_configs)"
bench_write_configs() {
  local_bench_write_configs
  local ci="host=$WORK/pg port=$PORT user=postgres dbname=postgres"
  cat > "$WORK/cellar.toml" <<CONF
[global]
home = "$WORK/cellar"
log_file = ""
[servers.$SRV]
conninfo = "$ci"
reuse_backup = "off"
parallel_jobs = 2
repository = "s3://$BUCKET/cellar"
s3_endpoint = "$S3_ENDPOINT"
s3_uri_style = "path"
s3_region = "us-east-1"
s3_key_id = "test:tester"
s3_secret_file = "$WORK/s3-secret"
s3_ca_file = "$S3_CA"
upload_concurrency = 8
CONF
  cat > "$WORK/pgbackrest.conf" <<CONF
[global]
repo1-type=s3
repo1-path=/pgbackrest
repo1-s3-bucket=$BUCKET
repo1-s3-endpoint=127.0.0.1
repo1-storage-port=$S3_PORT
repo1-s3-uri-style=path
repo1-s3-verify-tls=n
repo1-s3-key=test:tester
repo1-s3-key-secret=testing
repo1-s3-region=us-east-1
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
  chown postgres: "$WORK/cellar.toml" "$WORK/pgbackrest.conf"
}
if ! has_cellar; then cellar_() { :; }; fi

BCLOUD_ENV=("${AS_PG[@]}" env -C / "${AWS_ENV[@]}")
BCLOUD_URL=s3://$BUCKET/barman
bcloud_backup_cmd() {  # none|gzip -> BCLOUD_CMD
  BCLOUD_CMD=("${BCLOUD_ENV[@]}" barman-cloud-backup -q --endpoint-url "$S3_ENDPOINT"
              -h "$WORK/pg" -p "$PORT" -U postgres --immediate-checkpoint -J 2)
  [ "$1" = gzip ] && BCLOUD_CMD+=(--gzip)
  BCLOUD_CMD+=("$BCLOUD_URL" "$SRV")
}
bcloud_newest() {
  "${BCLOUD_ENV[@]}" barman-cloud-backup-list --endpoint-url "$S3_ENDPOINT" --format json \
    "$BCLOUD_URL" "$SRV" |
    /usr/bin/python3 -c 'import json,sys; print(sorted(b["backup_id"] for b in json.load(sys.stdin)["backups_list"])[-1])'
}
pgbr_newest() {
  pgbr_ info --output=json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["backup"][-1]["label"])'
}
cellar_id() { sed -n "s/^Backup \([0-9T]*\) of server .* is .*/\1/p" "$1"; }

# A new cluster has a new system id: empty the bucket, pgBackRest's stanza is
# created again by bench_load.
s3_reset() {
  objects rm "$BUCKET" ""
}

declare -A backup_of   # tool -> backup id / pgBackRest label / Barman backup id

# One timed backup with tool $1; sets T_SECS, T_RSS_KB, SIZE. cellar's backup
# is deleted again (cellar delete); pgBackRest's and Barman's full backups are
# independent of each other and stay (the restore phase uses the newest, in
# backup_of), deleting them takes their own tools' commands or a listing.
backup_with() {
  local tool=$1 out=$WORK/out.$1 id
  case $tool in
    cellar_*)
      cellar_ -q archive-wal "$SRV"
      timed "${CELLAR_CMD[@]}" backup "$SRV" --compression "${tool#cellar_}" --jobs 2 \
        --immediate-checkpoint --no-progress > "$out"
      id=$(cellar_id "$out")
      [ -n "$id" ] || { cat "$out" >&2; echo "ERROR: no backup id from cellar" >&2; return 1; }
      SIZE=$(s3_bytes "cellar/$SRV/base/$id/")
      cellar_ -q delete "$SRV" "$id" || objects rm "$BUCKET" "cellar/$SRV/base/$id/" ;;
    pgbr_*)
      timed "${PGBR_CMD[@]}" backup --type=full --compress-type="${tool#pgbr_}"
      id=$(pgbr_newest)
      SIZE=$(s3_bytes "pgbackrest/backup/$SRV/$id/")
      backup_of[$tool]=$id ;;
    barman_*)
      bcloud_backup_cmd "${tool#barman_}"
      timed "${BCLOUD_CMD[@]}"
      id=$(bcloud_newest)
      SIZE=$(s3_bytes "barman/$SRV/base/$id/")
      backup_of[$tool]=$id ;;
    *) echo "ERROR: unknown tool $tool" >&2; return 1 ;;
  esac
}

# The restore phase's backups, untimed: cellar's with --wait (recover wants a
# DONE backup; the backup phase's end WAITING_FOR_WALS and are deleted), the
# peers' only when the backup phase did not leave one.
take_backups() {
  local tool out=$WORK/out.backup
  for tool in "${tools[@]}"; do
    if [ -n "${backup_of[$tool]:-}" ]; then
      echo "# backup $tool: ${backup_of[$tool]} (from the backup phase)"
      continue
    fi
    case $tool in
      cellar_*)
        cellar_ backup "$SRV" --compression "${tool#cellar_}" --jobs 2 --immediate-checkpoint \
          --no-progress --wait --wait-timeout 600 > "$out"
        backup_of[$tool]=$(cellar_id "$out") ;;
      pgbr_*)
        pgbr_ backup --type=full --compress-type="${tool#pgbr_}"
        backup_of[$tool]=$(pgbr_newest) ;;
      barman_*)
        bcloud_backup_cmd "${tool#barman_}"
        "${BCLOUD_CMD[@]}"
        backup_of[$tool]=$(bcloud_newest) ;;
    esac
    echo "# backup $tool: ${backup_of[$tool]}"
  done
}

# One timed restore with tool $1 into a new directory; sets T_SECS, T_RSS_KB, SIZE.
restore_with() {
  local tool=$1 dest=$WORK/restore
  rm -rf "$dest"
  case $tool in
    cellar_*)
      timed "${CELLAR_CMD[@]}" -q recover "$SRV" "${backup_of[$tool]}" "$dest" --jobs 2 --get-wal --no-progress ;;
    pgbr_*)
      "${AS_PG[@]}" mkdir -m 700 "$dest"
      timed "${PGBR_CMD[@]}" restore --pg1-path="$dest" --set="${backup_of[$tool]}" ;;
    barman_*)
      timed "${BCLOUD_ENV[@]}" barman-cloud-restore -q --endpoint-url "$S3_ENDPOINT" \
        "$BCLOUD_URL" "$SRV" "${backup_of[$tool]}" "$dest" ;;
    *) echo "ERROR: unknown tool $tool" >&2; return 1 ;;
  esac
  [ -f "$dest/PG_VERSION" ] && [ -d "$dest/base" ] || { echo "ERROR: $tool restored no PGDATA" >&2; return 1; }
  SIZE=$(du_bytes "$dest")
  rm -rf "$dest"
}

label() {
  case $1 in
    cellar_*) echo "cellar, ${1#cellar_}, parallel_jobs 2, upload_concurrency 8" ;;
    pgbr_*) echo "pgBackRest 2.45, ${1#pgbr_}, process-max 2" ;;
    barman_none) echo "barman-cloud 3.4, uncompressed, -J 2" ;;
    barman_gzip) echo "barman-cloud 3.4, gzip, -J 2" ;;
  esac
}
mib() { awk -v b="$1" 'BEGIN {printf "%.0f", b / 1048576}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a != "" && b > 0) printf "%.2f", a / b; else print "-"}'; }

start=$(date +%s)
echo "# $(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GB RAM", $2 / 1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg), $(findmnt -no FSTYPE -T "$WORK") at $WORK"
echo "# $(bench_versions); barman-cloud $(barman-cloud-backup --version 2>&1 | awk '{print $2}');" \
     "boto3 $(/usr/bin/python3 -c 'import boto3; print(boto3.__version__)'); swift $(dpkg-query -W -f='${Version}' swift-proxy)"
echo "# S3: $S3_ENDPOINT (Swift s3api, TLS, proxy workers $SWIFT_WORKERS), bucket $BUCKET"
echo "# runs: $RUNS, scale: $SCALE_GB GB, datasets: $DATASETS, phases: $PHASES"
read -ra tools <<< "$TOOLS"
raw=$WORK/raw
: > "$raw"
for ds in $DATASETS; do
  s3_reset
  backup_of=()
  bench_new_cluster
  echo "# loading $ds ($SCALE_GB GB)..."
  bench_load "$ds" "$SCALE_GB"
  echo "# $ds: databases $(db_size)"
  n=${#tools[@]}
  for phase in $PHASES; do
    [ "$phase" = restore ] && take_backups
    for run in $(seq 1 "$RUNS"); do
      for k in $(seq 0 $((n - 1))); do
        tool=${tools[$(( (k + run - 1) % n ))]}
        if [ "$phase" = backup ]; then
          psql_ -c CHECKPOINT
          drop_caches
          backup_with "$tool"
        else
          drop_caches
          restore_with "$tool"
        fi
        echo "$phase $ds $run $tool $T_SECS $T_RSS_KB $SIZE" | tee -a "$raw"
      done
    done
  done
done
echo "# elapsed: $(( ($(date +%s) - start) / 60 )) min"

med() { awk -v p="$1" -v d="$2" -v t="$3" -v c="$4" '$1 == p && $2 == d && $4 == t {print $c}' "$raw" | median; }
for ds in $DATASETS; do
  for phase in $PHASES; do
    echo
    echo "#### $phase, $ds, medians of $RUNS run(s)"
    echo
    if [ "$phase" = backup ]; then
      echo "| tool | time (s) | stored (MiB) | peak RSS (MiB) |"
    else
      echo "| tool | time (s) | restored (MiB) | peak RSS (MiB) |"
    fi
    echo "|---|---|---|---|"
    for tool in "${tools[@]}"; do
      echo "| $(label "$tool") | $(med "$phase" "$ds" "$tool" 5) | $(mib "$(med "$phase" "$ds" "$tool" 7)") | $(awk -v k="$(med "$phase" "$ds" "$tool" 6)" 'BEGIN {printf "%.1f", k / 1024}') |"
    done
    echo
    for pair in cellar_zstd:pgbr_zst cellar_zstd:pgbr_lz4 cellar_none:pgbr_lz4; do
      c=${pair%:*} p=${pair#*:}
      has "$c" && has "$p" || continue
      line="- $c / $p time: $(ratio "$(med "$phase" "$ds" "$c" 5)" "$(med "$phase" "$ds" "$p" 5)") (target <= 0.7)"
      if [ "$phase" = backup ]; then
        line+=", stored size: $(ratio "$(med backup "$ds" "$c" 7)" "$(med backup "$ds" "$p" 7)") (target <= 1.0)"
      fi
      echo "$line"
    done
  done
done
if has_cellar; then
  echo
  echo "- cellar's largest peak RSS: $(awk '$4 ~ /^cellar_/ {if ($6 > m) m = $6} END {printf "%.1f", m / 1024}' "$raw") MiB (target <= 128 MiB with upload_concurrency 8)"
fi
