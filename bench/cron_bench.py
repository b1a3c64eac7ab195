#!/usr/bin/python3
"""`cellar cron` and `barman cron` side by side, in one run, for N servers
whose receivers are running and that have nothing to do.

"Receivers running" means their receive-wal locks are held: one helper
process (this script, forked) flocks `.<server>-receive-wal.lock` of every
server in both lock directories, exactly as a running receive-wal would, so
neither cron starts anything and no PostgreSQL is needed (neither cron
connects to PostgreSQL when its receivers run). Each cron is run RUNS times,
alternating, after one warm-up run each; reported: median and min wall time,
and the peak RSS of the cron process itself (wait4's rusage; Barman's
fire-and-forget archive-wal children are not its waited-for descendants and
are not counted, though they run and are waited for between runs).

Usage: cron_bench.py CELLAR_BINARY [SERVERS] [RUNS]
"""
import fcntl
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def setup(root, servers):
    cellar_home = os.path.join(root, "cellar")
    barman_home = os.path.join(root, "barman")
    for d in (cellar_home, barman_home, os.path.join(root, "barman.d")):
        os.makedirs(d, mode=0o700)
    toml = '[global]\nhome = "%s"\nlog_file = ""\n' % cellar_home
    ini = ("[barman]\nbarman_user = %s\nbarman_home = %s\nconfiguration_files_directory = %s\n"
           "log_file = %s\nlog_level = INFO\n") % (
        os.environ.get("USER", "root") if os.getuid() else "root", barman_home,
        os.path.join(root, "barman.d"), os.path.join(root, "barman.log"))
    for i in range(servers):
        name = "pg%02d" % i
        conninfo = "host=/nonexistent port=1 user=postgres dbname=postgres"
        toml += '\n[servers.%s]\nconninfo = "%s"\nslot_name = "cellar"\n' % (name, conninfo)
        write(os.path.join(root, "barman.d", name + ".conf"),
              "[%s]\nconninfo = %s\nstreaming_conninfo = %s\nbackup_method = postgres\n"
              "streaming_archiver = on\nslot_name = barman\n" % (name, conninfo, conninfo))
    write(os.path.join(root, "cellar.toml"), toml)
    write(os.path.join(root, "barman.conf"), ini)
    return cellar_home, barman_home


def hold_receiver_locks(dirs, servers):
    """Forks a process holding every receive-wal lock; returns its pid."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        held = []
        for d in dirs:
            for i in range(servers):
                fd = os.open(os.path.join(d, ".pg%02d-receive-wal.lock" % i), os.O_CREAT | os.O_RDWR, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)
                os.write(fd, b"%d\n" % os.getpid())
                held.append(fd)
        os.write(w, b"ok")
        os.close(w)
        signal_wait()
        os._exit(0)
    os.close(w)
    assert os.read(r, 2) == b"ok"
    return pid


def signal_wait():
    while True:
        time.sleep(3600)


def run_once(argv):
    start = time.perf_counter()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode()
    if p.returncode != 0:
        sys.exit("%s exited %d: %s" % (" ".join(argv), p.returncode, err))
    return wall, usage.ru_maxrss  # KiB


def wait_for_barman_children():
    """Barman's cron leaves archive-wal processes behind; let them finish."""
    for _ in range(600):
        out = subprocess.run(["pgrep", "-f", "barman.* archive-wal"], capture_output=True).stdout
        if not out.strip():
            return
        time.sleep(0.1)


def main():
    cellar = os.path.abspath(sys.argv[1])
    servers = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    root = tempfile.mkdtemp(prefix="cron-bench-")
    holder = None
    try:
        cellar_home, barman_home = setup(root, servers)
        holder = hold_receiver_locks([cellar_home, barman_home], servers)
        commands = {
            "cellar": [cellar, "-c", os.path.join(root, "cellar.toml"), "-q", "cron"],
            "barman": ["/usr/bin/barman", "-c", os.path.join(root, "barman.conf"), "-q", "cron"],
        }
        results = {k: [] for k in commands}
        for name, argv in commands.items():  # warm-up: directories, caches
            run_once(argv)
            wait_for_barman_children()
        for _ in range(runs):
            for name, argv in commands.items():
                results[name].append(run_once(argv))
                wait_for_barman_children()
        print("# %d servers, receivers running (locks held), nothing to do; %d runs each" % (servers, runs))
        for name, rs in results.items():
            walls = [w * 1000 for w, _ in rs]
            rss = max(m for _, m in rs) / 1024
            print("%s_cron median %.1f ms, min %.1f ms, peak RSS %.1f MiB   (%s)" % (
                name, statistics.median(walls), min(walls), rss, " ".join(commands[name][0:1] + commands[name][3:])))
    finally:
        if holder:
            os.kill(holder, 9)
            os.waitpid(holder, 0)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
