// zdaemon's restart rules for one supervised child, as a value (no clock, no
// process): the daemon asks what to do each time a receive-wal ends.
//
//   - an exit status listed in exit_codes (default 0 and 2: a clean stop, a
//     configuration error) is final: not restarted, whatever `forever` says;
//   - otherwise the child is restarted after a delay of 1 s, then 2 s, 3 s,
//     ... for each fast crash in a row, never more than backoff_limit;
//   - a child that stayed up longer than backoff_limit resets the series
//     (its crash counts as the first of a new one, 1 s);
//   - with forever = false, the crash after backoff_limit fast restarts in a
//     row gives up: an always-crashing child is restarted exactly
//     backoff_limit times.
#pragma once

#include <chrono>
#include <vector>

#include "common/process.h"

namespace cellar::daemon {

struct RestartPolicy {
  std::chrono::seconds backoff_limit{10};  // receive_wal_backoff_limit
  bool forever = true;                     // daemon_forever
  std::vector<int> exit_codes{0, 2};       // daemon_exit_codes
};

enum class AfterExit {
  restart,  // after delay()
  final,    // its exit status is one of exit_codes
  give_up,  // forever = false and too many fast crashes in a row
};

class Backoff {
 public:
  explicit Backoff(RestartPolicy policy = {}) : policy_(std::move(policy)) {}

  // A child that ran for `uptime` ended with `status`.
  AfterExit on_exit(const ExitStatus& status, std::chrono::steady_clock::duration uptime);
  // A child we cannot wait for (adopted from an earlier daemon) is gone:
  // its status is unknown, so it counts as a crash.
  AfterExit on_vanished(std::chrono::steady_clock::duration uptime);
  // The delay before the next start (0 before any crash).
  std::chrono::seconds delay() const { return std::chrono::seconds(delay_s_); }
  int fast_crashes() const { return fast_crashes_; }
  void reset() {
    fast_crashes_ = 0;
    delay_s_ = 0;
  }
  void set_policy(RestartPolicy policy) { policy_ = std::move(policy); }

 private:
  AfterExit crashed(std::chrono::steady_clock::duration uptime);
  RestartPolicy policy_;
  int fast_crashes_ = 0;
  int64_t delay_s_ = 0;
};

}  // namespace cellar::daemon
