#include "daemon/backoff.h"

#include <algorithm>

namespace cellar::daemon {

AfterExit Backoff::on_exit(const ExitStatus& status, std::chrono::steady_clock::duration uptime) {
  if (status.signal == 0 &&
      std::find(policy_.exit_codes.begin(), policy_.exit_codes.end(), status.code) != policy_.exit_codes.end())
    return AfterExit::final;
  return crashed(uptime);
}

AfterExit Backoff::on_vanished(std::chrono::steady_clock::duration uptime) { return crashed(uptime); }

AfterExit Backoff::crashed(std::chrono::steady_clock::duration uptime) {
  const int64_t limit = policy_.backoff_limit.count();
  // Up longer than the limit: not a fast crash; the series starts again.
  if (uptime > policy_.backoff_limit) fast_crashes_ = 0;
  ++fast_crashes_;
  if (!policy_.forever && fast_crashes_ > limit) return AfterExit::give_up;
  delay_s_ = std::min<int64_t>(fast_crashes_, limit);
  return AfterExit::restart;
}

}  // namespace cellar::daemon
