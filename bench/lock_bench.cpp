// Lock benchmarks (not a test; driven by bench/locks.sh and
// bench/lock_backends.sh):
//   lock_bench populate DIR N     N lock files of every kind, many servers
//   lock_bench acquire FILE ITER RUNS   median ns per LockFile acquire+release
//   lock_bench scan DIR RUNS HELD       median ms per scan_locks(DIR) (full,
//                                       state only, one server of many), while
//                                       this process holds HELD of the files
// Through the LockManager interface, BACKEND being "file DIR" or
// "etcd ENDPOINT PREFIX":
//   lock_bench manager-acquire BACKEND ITER RUNS
//       per run a fresh manager: its first acquire (etcd: with the lease
//       grant), then ITER acquire+release of one typed lock (steady state)
//   lock_bench manager-hold BACKEND ITER RUNS
//       ITER hold+release_hold of one resource per run
//   lock_bench manager-list BACKEND N RUNS
//       list({}) and list({server}) while one manager holds N process locks
//       (10 lists per run)
// Prints one "name value unit" line per measurement; medians over RUNS. With
// $BENCH_SERVER_PID set, also the CPU time that process (etcd) used per
// operation, from /proc/PID/stat.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/fs.h"
#include "locks/etcd_lock_manager.h"
#include "locks/file_lock_manager.h"
#include "locks/inspect.h"
#include "locks/lock_file.h"
#include "locks/lock_manager.h"
#include "locks/lock_names.h"

using namespace cellar;
using namespace cellar::locks;
using Clock = std::chrono::steady_clock;

namespace {

// Process CPU time (user+system, all threads): less disturbed than wall time
// when other work shares the machine.
double cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Lock names cycling through the ten kinds over servers "srv-0", "srv-1", ...
std::vector<LockName> bench_lock_names(int n) {
  std::vector<LockName> names;
  const auto& kinds = all_kinds();
  for (int i = 0; static_cast<int>(names.size()) < n; ++i) {
    LockName name{kinds[static_cast<size_t>(i) % kinds.size()], "srv-" + std::to_string(i / 10), ""};
    if (is_global(name.kind)) continue;
    if (needs_backup_id(name.kind)) name.backup_id = "20240101T" + std::to_string(100000 + i % 100000).substr(0, 6);
    names.push_back(name);
  }
  return names;
}

std::vector<std::string> bench_names(int n) {
  std::vector<std::string> names;
  for (const auto& name : bench_lock_names(n)) names.push_back(make_lock_file_name(name));
  return names;
}

int populate(const std::string& dir, int n) {
  for (const auto& name : bench_names(n)) {
    LockFile lock(join_path(dir, name));
    if (!lock.acquire()) return 1;
  }
  std::printf("populated %d\n", n);
  return 0;
}

int acquire(const std::string& path, int iterations, int runs) {
  std::vector<double> per_op, cpu_per_op;
  for (int r = 0; r < runs; ++r) {
    auto start = Clock::now();
    double cpu_start = cpu_ns();
    for (int i = 0; i < iterations; ++i) {
      LockFile lock(path);
      if (!lock.acquire()) return 1;
      lock.release();
    }
    per_op.push_back(std::chrono::duration<double, std::nano>(Clock::now() - start).count() / iterations);
    cpu_per_op.push_back((cpu_ns() - cpu_start) / iterations);
  }
  std::printf("cellar_acquire_release %.0f ns (cpu %.0f ns)\n", median(per_op), median(cpu_per_op));
  return 0;
}

int scan(const std::string& dir, int runs, int held, const ScanOptions& options, const char* label) {
  auto names = list_dir(dir);
  if (!names) return 1;
  std::vector<LockFile> holding;
  for (int i = 0; i < held && i < static_cast<int>(names->size()); ++i) {
    holding.emplace_back(join_path(dir, (*names)[static_cast<size_t>(i) * names->size() / held]));
    if (!holding.back().acquire()) return 1;
  }
  std::vector<double> ms, cpu_ms;
  size_t found = 0;
  for (int r = 0; r < runs; ++r) {
    auto start = Clock::now();
    double cpu_start = cpu_ns();
    auto entries = scan_locks(dir, options);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    cpu_ms.push_back((cpu_ns() - cpu_start) / 1e6);
    if (!entries) return 1;
    found = entries->size();
  }
  std::printf("%s %.2f ms (cpu %.2f ms; %zu files, %d held)\n", label, median(ms), median(cpu_ms), found, held);
  return 0;
}

// --- through the LockManager interface ----------------------------------

// CPU time (user+system) $BENCH_SERVER_PID has used so far, 0 when unset:
// what the etcd server spends, which this process's CPU time does not show.
double server_cpu_ns() {
  static const char* const pid = std::getenv("BENCH_SERVER_PID");
  if (pid == nullptr || *pid == '\0') return 0;
  std::ifstream in(std::string("/proc/") + pid + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces; count from the ")" after it.
  std::istringstream rest(stat.substr(stat.rfind(')') + 1));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i)
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
  return ticks * 1e9 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Wall, own CPU and server CPU time since construction.
struct Stopwatch {
  Clock::time_point wall = Clock::now();
  double cpu = cpu_ns();
  double server = server_cpu_ns();
};

// Per-operation times of several runs, in ns.
struct Series {
  std::vector<double> wall, cpu, server;

  void add(const Stopwatch& since, int ops) {
    wall.push_back(std::chrono::duration<double, std::nano>(Clock::now() - since.wall).count() / ops);
    cpu.push_back((cpu_ns() - since.cpu) / ops);
    server.push_back((server_cpu_ns() - since.server) / ops);
  }
  // "label 12.3 us (cpu 4.5 us; server cpu 6.7 us)", in `unit` (us or ms).
  // The server's CPU time comes in clock ticks (10 ms): shown only for
  // samples of many operations.
  void print(const std::string& label, const char* unit, const std::string& note = "", bool server_cpu = true) const {
    const double scale = std::string(unit) == "ms" ? 1e6 : 1e3;
    std::printf("%s %.1f %s (cpu %.1f %s", label.c_str(), median(wall) / scale, unit, median(cpu) / scale, unit);
    if (server_cpu && std::getenv("BENCH_SERVER_PID") != nullptr)
      std::printf("; server cpu %.1f %s", median(server) / scale, unit);
    std::printf("%s)\n", note.c_str());
  }
};

// Which backend, from "file DIR" or "etcd ENDPOINT PREFIX".
struct BackendSpec {
  std::string backend;
  std::vector<std::string> where;  // file: the lock directory; etcd: endpoint, prefix

  std::unique_ptr<LockManager> make() const {
    if (backend == "file") return make_file_lock_manager(where[0]);
    EtcdOptions options;
    options.endpoints = {where[0]};
    options.prefix = where[1];
    return make_etcd_lock_manager(options);
  }
};

// The spec at the front of `args`; how many arguments it took (0: none).
size_t parse_backend(const std::vector<std::string>& args, BackendSpec& spec) {
  if (args.size() >= 2 && args[0] == "file") spec = {"file", {args[1]}};
  if (args.size() >= 3 && args[0] == "etcd") spec = {"etcd", {args[1], args[2]}};
  return spec.where.size() + (spec.where.empty() ? 0 : 1);
}

int failed(const char* what, const Status& status) {
  std::fprintf(stderr, "lock_bench: %s: %s\n", what, status.to_string().c_str());
  return 1;
}

const LockName kBenchLock{LockKind::backup, "bench", ""};

// Per run a fresh manager: its first acquire (etcd: the lease grant and the
// key), then `iterations` acquire+release of the same lock. The manager's
// end (etcd: revoking the lease) is not timed.
int manager_acquire(const BackendSpec& spec, int iterations, int runs) {
  Series first, steady;
  std::vector<double> acquire_only;
  for (int r = 0; r < runs; ++r) {
    auto manager = spec.make();
    Stopwatch w;
    auto lock = manager->acquire(kBenchLock, {});
    first.add(w, 1);
    if (!lock) return failed("first acquire", lock.status());
    (*lock)->release();
    Stopwatch all;
    Clock::duration acquiring{};
    for (int i = 0; i < iterations; ++i) {
      const auto start = Clock::now();
      auto again = manager->acquire(kBenchLock, {});
      acquiring += Clock::now() - start;
      if (!again) return failed("acquire", again.status());
      (*again)->release();
    }
    steady.add(all, iterations);
    acquire_only.push_back(std::chrono::duration<double, std::nano>(acquiring).count() / iterations);
  }
  first.print(spec.backend + "_first_acquire", "us", "; fresh manager", false);
  steady.print(spec.backend + "_acquire_release", "us");
  std::printf("%s_acquire_only %.1f us (wall)\n", spec.backend.c_str(), median(acquire_only) / 1e3);
  return 0;
}

int manager_hold(const BackendSpec& spec, int iterations, int runs) {
  auto manager = spec.make();
  const HoldRequest request{kBenchLock, "bench", "benchmark", std::nullopt};
  Series series;
  for (int r = 0; r < runs; ++r) {
    Stopwatch w;
    for (int i = 0; i < iterations; ++i) {
      auto held = manager->hold(request);
      if (!held) return failed("hold", held.status());
      if (Status st = manager->release_hold(kBenchLock, request.client); !st) return failed("release_hold", st);
    }
    series.add(w, iterations);
  }
  series.print(spec.backend + "_hold_release_hold", "us");
  return 0;
}

// list() calls per run: enough for the server's CPU time to count ticks.
constexpr int kListsPerRun = 10;

// One manager holds `n` process locks (bench_lock_names) while list() runs,
// of everything and of one server.
int manager_list(const BackendSpec& spec, int n, int runs) {
  auto manager = spec.make();
  std::vector<std::unique_ptr<HeldLock>> held;
  Series populate, full, one;
  Stopwatch w;
  for (const LockName& name : bench_lock_names(n)) {
    auto lock = manager->acquire(name, {});
    if (!lock) return failed("acquire", lock.status());
    held.push_back(std::move(*lock));
  }
  populate.add(w, n);
  ScanOptions one_server;
  one_server.server = "srv-" + std::to_string(n / 20);  // about the middle of bench_lock_names(n)
  size_t found = 0, found_one = 0;
  for (int r = 0; r < runs; ++r) {
    Stopwatch all;
    for (int i = 0; i < kListsPerRun; ++i) {
      auto entries = manager->list({});
      if (!entries) return failed("list", entries.status());
      found = entries->size();
    }
    full.add(all, kListsPerRun);
    Stopwatch some;
    for (int i = 0; i < kListsPerRun; ++i) {
      auto entries = manager->list(one_server);
      if (!entries) return failed("list", entries.status());
      found_one = entries->size();
    }
    one.add(some, kListsPerRun);
  }
  const std::string held_text = std::to_string(n) + " held by one manager";
  populate.print(spec.backend + "_populate_acquire", "us", "; per lock, " + held_text);
  full.print(spec.backend + "_list", "ms", "; " + std::to_string(found) + " entries, " + held_text);
  one.print(spec.backend + "_list_one_server", "ms", "; " + std::to_string(found_one) + " entries");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 3 && a[0] == "populate") return populate(a[1], std::stoi(a[2]));
  if (a.size() == 4 && a[0] == "acquire") return acquire(a[1], std::stoi(a[2]), std::stoi(a[3]));
  if (a.size() == 4 && a[0] == "scan") {
    ScanOptions full, state, one_server;
    state.details = false;
    one_server.server = "srv-500";
    int runs = std::stoi(a[2]), held = std::stoi(a[3]);
    return scan(a[1], runs, held, full, "cellar_scan") || scan(a[1], runs, held, state, "cellar_scan_state_only") ||
           scan(a[1], runs, held, one_server, "cellar_scan_one_server");
  }
  BackendSpec spec;
  const size_t taken = a.empty() ? 0 : parse_backend({a.begin() + 1, a.end()}, spec);
  if (taken > 0 && a.size() == taken + 3) {
    const int count = std::stoi(a[taken + 1]), runs = std::stoi(a[taken + 2]);
    if (a[0] == "manager-acquire") return manager_acquire(spec, count, runs);
    if (a[0] == "manager-hold") return manager_hold(spec, count, runs);
    if (a[0] == "manager-list") return manager_list(spec, count, runs);
  }
  std::fprintf(stderr,
               "usage: lock_bench populate DIR N | acquire FILE ITER RUNS | scan DIR RUNS HELD\n"
               "       lock_bench manager-acquire|manager-hold BACKEND ITER RUNS | manager-list BACKEND N RUNS\n"
               "       (BACKEND: file DIR | etcd ENDPOINT PREFIX)\n");
  return 2;
}
