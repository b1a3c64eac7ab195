// The daemon's maintenance loop: one cron pass (cron/cron.h: archive-wal,
// settle backups, retention, scheduled backups, passive-node sync) every
// daemon_interval, in a thread of its own so that the control socket and the
// supervision never wait for it. The pass takes the same locks as `cellar
// cron` (global-cron, then each server's cron lock), so the two run side by
// side; receive-wal is left to the daemon's supervisor.
#pragma once

#include <chrono>
#include <condition_variable>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"
#include "config/config.h"

namespace cellar::daemon {

// The last pass, as status shows it.
struct PassReport {
  std::time_t started = 0;  // 0: no pass yet
  double seconds = 0;
  bool ok = true;
  std::string error;                                        // the pass's failure, if any
  std::map<std::string, std::vector<std::string>> servers;  // errors per server (empty: ok)
};

class Maintenance {
 public:
  struct Options {
    std::string config_path;  // children get "-c <path>"
    std::string exe = "/proc/self/exe";
    std::function<std::shared_ptr<const Config>()> config;  // the current configuration
    std::function<void(const std::string&)> say;            // a line for the transcript
  };
  explicit Maintenance(Options options) : o_(std::move(options)) {}
  ~Maintenance() { stop(); }

  void start();    // the first pass runs at once
  void run_now();  // the next pass runs at once (a reloaded configuration)
  void stop();     // waits for a running pass to end
  PassReport last() const;
  // Seconds until the next pass (0 while one runs).
  int64_t next_in() const;

 private:
  void loop();
  void pass();
  Options o_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool now_ = false;
  bool running_ = false;
  std::chrono::steady_clock::time_point next_{};
  PassReport last_;
  std::thread thread_;
};

}  // namespace cellar::daemon
