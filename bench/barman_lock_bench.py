"""Barman's side of bench/locks.sh, with Barman's own barman.lockfile.

Run with Debian's interpreter (/usr/bin/python3), which sees the barman package:
  barman_lock_bench.py acquire FILE ITER RUNS   median us per LockFile acquire+release
  barman_lock_bench.py scan DIR RUNS HELD       median ms per scan of DIR's lock files

Barman has no "list every lock" command; its scan is what ProcessManager does
for each lock file it finds: glob, then LockFile.get_owner_pid() (a probe that
briefly takes the lock, and reads the PID when it is busy).
"""
import glob
import os
import statistics
import sys
import time

from barman.exceptions import LockFileException
from barman.lockfile import LockFile


def acquire(path, iterations, runs):
    per_op, cpu_per_op = [], []
    for _ in range(runs):
        start, cpu_start = time.perf_counter_ns(), time.process_time_ns()
        for _ in range(iterations):
            lock = LockFile(path, raise_if_fail=True, wait=False)
            lock.acquire()
            lock.release()
        per_op.append((time.perf_counter_ns() - start) / iterations)
        cpu_per_op.append((time.process_time_ns() - cpu_start) / iterations)
    print("barman_acquire_release %.0f ns (cpu %.0f ns)" % (statistics.median(per_op), statistics.median(cpu_per_op)))


def scan(directory, runs, held):
    names = sorted(os.listdir(directory))
    holding = []
    for i in range(held):
        lock = LockFile(os.path.join(directory, names[i * len(names) // held]))
        lock.acquire()
        holding.append(lock)
    times, cpu_times = [], []
    found = 0
    for _ in range(runs):
        start, cpu_start = time.perf_counter_ns(), time.process_time_ns()
        found = 0
        for path in glob.glob(os.path.join(directory, ".*.lock")):
            try:
                LockFile(path).get_owner_pid()
            except LockFileException:
                pass
            found += 1
        times.append((time.perf_counter_ns() - start) / 1e6)
        cpu_times.append((time.process_time_ns() - cpu_start) / 1e6)
    print("barman_scan %.2f ms (cpu %.2f ms; %d files, %d held)"
          % (statistics.median(times), statistics.median(cpu_times), found, held))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "acquire":
        acquire(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif mode == "scan":
        scan(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit("usage: barman_lock_bench.py acquire FILE ITER RUNS | scan DIR RUNS HELD")
