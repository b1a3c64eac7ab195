// Shared pieces of the [locks] tests: the helper modes (lock_helpers.cpp) that
// hold locks in other processes, and a way to see in /proc/locks that a
// process is blocked waiting for a lock, so tests synchronise without sleeps.
#pragma once

#include <string>

namespace cellar::test {

// Spins (yielding) until /proc/locks shows a blocked flock() waiter on `path`;
// false if none shows up within `limit_ms`.
bool wait_for_blocked_waiter(const std::string& path, int limit_ms = 10000);

}  // namespace cellar::test
