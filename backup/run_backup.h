// `cellar backup SERVER` (SPEC §1, §3, §7): a full base backup over the
// replication protocol (BASE_BACKUP, no pg_basebackup process), stored as
// base/<id>/{backup.info, backup_manifest, data/, <oid>/}, each regular file
// compressed by parallel worker threads, deduplicated against the previous
// DONE backup with hard links (reuse_backup = link).
//
// Statuses, each saved durably before the step it announces:
//   STARTED           the id lock is held and files are being written
//   WAITING_FOR_WALS  every file and the manifest are fsynced
//   DONE              and every WAL segment begin_wal..end_wal is in wals/
//   FAILED            error= says which step failed and why
// A kill -9 leaves STARTED with a free id lock, which every reader shows as
// FAILED and the next backup marks FAILED on disk.
//
// WAL is not streamed inside the backup: receive-wal and archive-wal put it
// in wals/. After BASE_BACKUP cellar creates the restore point cellar_<id>
// and then calls pg_switch_wal(), in that order, so that the segment holding
// the restore point is closed and archived at once too (the end segment of
// the backup itself is already closed by the server's stop step). From a hot
// standby both go to the primary named by primary_conninfo (or, without it,
// the backup waits for the primary to close the end segment). The backup
// then runs archive-wal once (more often with --wait, until --wait-timeout)
// and checks its WAL (catalog::check_backup_wals).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "common/codec.h"
#include "common/status.h"
#include "config/config.h"

namespace cellar::backup {

struct BackupRequest {
  const Config* config = nullptr;
  const ServerConfig* server = nullptr;
  std::string name;                                  // --name; "" = none
  bool wait = false;                                 // --wait: until DONE (or FAILED)
  std::optional<std::chrono::seconds> wait_timeout;  // with wait; none = forever
  bool immediate_checkpoint = false;                 // CHECKPOINT 'fast'
  std::optional<codec::Codec> compression;           // --compression; none = the server's
  unsigned jobs = 0;                                 // --jobs; 0 = parallel_jobs
  bool progress = false;                             // draw a progress line on stderr
  // --incremental / --full; neither: the server's backup_type and full_backup_every.
  std::optional<bool> incremental;
  std::string from;                              // --from BACKUP: the parent; "" = the newest DONE backup
  std::function<void(const std::string&)> say;   // informational lines (stdout)
  std::function<void(const std::string&)> warn;  // warnings (stderr "WARNING: ..."); none: the log
};

struct BackupOutcome {
  std::string id;
  std::string status;  // WAITING_FOR_WALS or DONE
  std::string dir;
};

// Fails busy (exit 3) when another backup of the server runs, naming its PID;
// failed when PostgreSQL or the disk fails (the backup is then FAILED with
// error=), or when --wait timed out (the backup stays WAITING_FOR_WALS).
Result<BackupOutcome> run_backup(const BackupRequest& request);

// Names given with --name: non-empty, not a backup id, not a reserved word.
Status validate_backup_name(const std::string& name);

}  // namespace cellar::backup
