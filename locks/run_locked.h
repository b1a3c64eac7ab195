// `cellar lock`: run a command while this process holds a lock (like
// flock(1)). The lock fd is O_CLOEXEC, so the command never inherits it: the
// lock lives exactly as long as this process waits for the command, and a
// killed cellar frees it even if the command lingers. SIGTERM, SIGINT and
// SIGHUP received meanwhile are forwarded to the command.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "locks/lock_manager.h"

namespace cellar::locks {

struct CommandOutcome {
  // The command's exit status, 128+signal if a signal killed it; 127 (not
  // found) or 126 (not executable) when it could not be started.
  int exit_code = 0;
  Status error;  // set when the command could not be started
};

// Precondition: `lock` is held. argv[0] is looked up on PATH.
CommandOutcome run_holding(const HeldLock& lock, const std::vector<std::string>& argv);

}  // namespace cellar::locks
