// `cellar cron` (SPEC §1, §6; barman-behaviour.md §3): one maintenance pass
// over every active server, meant to run every minute. Under the global-cron
// lock, then each server's cron lock, it keeps receive-wal running (started
// detached, never twice: the receive-wal lock decides), archives WAL
// in-process, settles backups (WAITING_FOR_WALS → DONE/FAILED, dead STARTED →
// FAILED), applies retention and starts a scheduled backup (detached).
//
// A busy lock is never a failure: cron says so in one line and moves on
// (exit 0). Every server is handled even when another one fails; a failure
// of a step is reported and the pass continues with the next step.
//
// Not here: the backup steps themselves (cron/maintenance.h), passive-node
// sync (sync/sync.h), starting a background process (common/process.h).
#pragma once

#include <functional>
#include <string>

#include "common/status.h"
#include "config/config.h"

namespace cellar::cron {

struct CronOptions {
  const Config* config = nullptr;
  std::string config_path;                      // absolute; passed to children as "-c <path>"
  bool keep_descriptors = false;                // children inherit stdout/stderr instead of the log files
  std::string exe = "/proc/self/exe";           // the cellar binary children run
  std::function<void(const std::string&)> say;  // informational lines (stdout)
  std::function<void(const Status&)> complain;  // a step's failure (stderr)
};

// One pass. Ok when every step of every server succeeded or was skipped
// because a lock was busy; otherwise failed, naming the servers that had
// errors (each error was already given to `complain`).
Status run_cron(const CronOptions& options);

}  // namespace cellar::cron
