#include "common/progress.h"

#include <cstdio>

namespace cellar {

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string progress_line(uint64_t done, uint64_t total, double seconds) {
  double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  std::string line = human_bytes(done);
  if (total > 0) {
    uint64_t shown_total = total < done ? done : total;
    line += " / " + human_bytes(shown_total) + " (" + std::to_string(done * 100 / shown_total) + "%)";
  }
  line += ", " + human_bytes(static_cast<uint64_t>(rate)) + "/s";
  if (total > done && rate > 0)
    line += ", ETA " + std::to_string(static_cast<uint64_t>(static_cast<double>(total - done) / rate)) + " s";
  return line;
}

void ProgressMeter::update(uint64_t done, uint64_t total) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_ < std::chrono::milliseconds(200) && done < total) return;
  last_ = now;
  double secs = std::chrono::duration<double>(now - start_).count();
  std::fprintf(stderr, "\r\033[K%s", progress_line(done, total, secs).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressMeter::finish() {
  if (drawn_) std::fprintf(stderr, "\n");
  drawn_ = false;
}

}  // namespace cellar
