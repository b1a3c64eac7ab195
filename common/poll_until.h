// Waiting on a condition another process settles (a lock taken, a PID gone,
// a socket answering), by polling: the one loop for cron and the daemon's
// control verbs.
#pragma once

#include <chrono>
#include <thread>

namespace cellar {

// Polls `done` every `interval` until it is true or `limit` passes; returns
// done() (asked once more at the deadline).
template <typename Pred>
bool poll_until(Pred done, std::chrono::milliseconds limit,
                std::chrono::milliseconds interval = std::chrono::milliseconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return done();
    std::this_thread::sleep_for(interval);
  }
  return true;
}

}  // namespace cellar
