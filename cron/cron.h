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

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "config/config.h"

namespace cellar::cron {

struct CronOptions {
  const Config* config = nullptr;
  std::string config_path;                      // absolute; passed to children as "-c <path>"
  bool keep_descriptors = false;                // children inherit stdout/stderr instead of the log files
  std::string exe = "/proc/self/exe";           // the cellar binary children run
  bool supervise_receivers = true;              // false: the daemon keeps receive-wal running itself
  std::function<void(const std::string&)> say;  // informational lines (stdout)
  std::function<void(const Status&)> complain;  // a step's failure (stderr)
  // After each server's pass: its name, and the errors it had (none = ok).
  std::function<void(const std::string& server, const std::vector<std::string>& errors)> server_done;
};

// One pass. Ok when every step of every server succeeded or was skipped
// because a lock was busy; otherwise failed, naming the servers that had
// errors (each error was already given to `complain`).
Status run_cron(const CronOptions& options);

// "<pid> <value>\n": who cron (receive-wal.cron, backup.cron) or the daemon
// (receive-wal.daemon) started, and with what (a fingerprint, a start time).
struct ProcessRecord {
  int64_t pid = 0;
  uint64_t value = 0;
};
// None when missing or unreadable; a failed save is a warning in the log.
std::optional<ProcessRecord> load_process_record(const std::string& path);
void save_process_record(const std::string& path, const ProcessRecord& record);

// What a running receiver was started with (conninfo, slot, create_slot,
// receive_wal_timeout):
// when it changes, cron and the daemon restart it.
uint64_t receiver_fingerprint(const ServerConfig& server);

}  // namespace cellar::cron
