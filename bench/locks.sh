#!/bin/sh
# Lock benchmarks, cellar side by side with Barman's own barman.lockfile:
#   acquire+release latency of one lock file, and a scan of 10,000 lock files.
# Medians of several runs; wall time, and process CPU time (steadier when the
# machine is shared). Usage: bench/locks.sh [BUILD_DIR]   (default: build)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
bench=$build/bench/lock_bench
py=/usr/bin/python3           # Debian's interpreter: the one that sees the barman package
iterations=${ITERATIONS:-100000}
runs=${RUNS:-7}
files=${FILES:-10000}
held=${HELD:-100}

[ -x "$bench" ] || { echo "ERROR: $bench not built (ninja -C $build lock_bench)" >&2; exit 1; }
if ! $py -c 'import barman.lockfile' 2>/dev/null; then
  echo "installing Debian's barman package" >&2
  apt-get install -y barman >/dev/null
fi

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$bench" populate "$dir" "$files" >/dev/null
one="$dir/.bench-backup.lock"

echo "# $(uname -srm), $(nproc) CPUs, $(findmnt -no FSTYPE -T "$dir") at $dir; barman $($py -c 'import barman; print(barman.__version__)')"
echo "# acquire+release, $iterations per run, median of $runs runs"
"$bench" acquire "$one" "$iterations" "$runs"
$py "$here/barman_lock_bench.py" acquire "$one" "$((iterations / 5))" "$runs"
echo "# scan of $files lock files ($held held by the scanning process), median of $runs runs"
"$bench" scan "$dir" "$runs" "$held"
$py "$here/barman_lock_bench.py" scan "$dir" "$runs" "$held"
