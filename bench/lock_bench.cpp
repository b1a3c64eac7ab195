// Lock benchmarks (not a test; driven by bench/locks.sh):
//   lock_bench populate DIR N     N lock files of every kind, many servers
//   lock_bench acquire FILE ITER RUNS   median ns per LockFile acquire+release
//   lock_bench scan DIR RUNS HELD       median ms per scan_locks(DIR) (full,
//                                       state only, one server of many), while
//                                       this process holds HELD of the files
// Prints one "name value unit" line per measurement.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "common/fs.h"
#include "locks/inspect.h"
#include "locks/lock_file.h"
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
std::vector<std::string> bench_names(int n) {
  std::vector<std::string> names;
  const auto& kinds = all_kinds();
  for (int i = 0; static_cast<int>(names.size()) < n; ++i) {
    LockName name{kinds[static_cast<size_t>(i) % kinds.size()], "srv-" + std::to_string(i / 10), ""};
    if (is_global(name.kind)) continue;
    if (needs_backup_id(name.kind)) name.backup_id = "20240101T" + std::to_string(100000 + i % 100000).substr(0, 6);
    names.push_back(make_lock_file_name(name));
  }
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
  std::fprintf(stderr, "usage: lock_bench populate DIR N | acquire FILE ITER RUNS | scan DIR RUNS HELD\n");
  return 2;
}
