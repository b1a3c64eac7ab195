// The backup progress line on a terminal: bytes done / total, percentage,
// rate and ETA, redrawn in place at most a few times a second on stderr.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace cellar {

class ProgressMeter {
 public:
  explicit ProgressMeter(bool enabled) : enabled_(enabled), start_(std::chrono::steady_clock::now()) {}
  // total 0 = unknown.
  void update(uint64_t done, uint64_t total);
  // Ends the line (if anything was drawn).
  void finish();

 private:
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_{};
};

// "1.2 MiB / 45.0 MiB (2%), 3.1 MiB/s, ETA 14 s"
std::string progress_line(uint64_t done, uint64_t total, double seconds);

// "16.0 MiB": sizes for humans.
std::string human_bytes(uint64_t bytes);

}  // namespace cellar
