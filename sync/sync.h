// The passive node (SPEC §1, `primary_ssh_command` or `primary_repository`
// set): it never connects to PostgreSQL; it reads what its primary node has
// (sync/primary.h: the primary's cellar through a command prefix, or the
// primary's repository directly) and files what it receives like
// archive-wal would: temp name, fsync, rename, then xlog.db under the xlogdb
// lock.
//
// The ssh transport: `sh -c '<primary_ssh_command> <words>'` where <words>
// are cellar's own subcommand words, shell-quoted ("sync-info main 0000...");
// so the prefix must end in the primary's cellar invocation, e.g.
// `ssh cellar@db1 cellar` or `/usr/bin/cellar -c /etc/cellar/primary.toml`.
//
// Where sync-wal stopped: <home>/<server>/wals/sync-wals.info holds
// "<last_name>\t<last_position>" of the primary's last answer it fully
// applied (saved atomically); missing = from the start.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "config/config.h"
#include "locks/typed_lock.h"

namespace cellar::sync {

// Runs the primary's cellar with `words` after the server's prefix; stdout
// goes to `on_stdout` by chunks. Fails (ErrorCode::failed) if it cannot run,
// if on_stdout fails, or if it exits non-zero (message with its stderr);
// `exit_code` receives the remote exit code when it ran.
Status run_on_primary(const ServerConfig& server, const std::vector<std::string>& words,
                      const std::function<Status(std::string_view)>& on_stdout, int* exit_code = nullptr);

struct SyncWalResult {
  size_t copied = 0;      // WAL files received and catalogued
  std::string last_name;  // the primary's last WAL, now the bookmark
};

// sync-wal: copies the WAL the primary has and this node lacks, verifies
// every size against sync-info, appends them to xlog.db and saves the
// bookmark. Usage error for a server that is not passive. Requires the
// server's sync-wal lock; takes the xlogdb lock while appending.
Result<SyncWalResult> sync_wal(const locks::SyncWalLock& lock, const Config& config, const ServerConfig& server);

// sync-backup: copies the primary's DONE backup `backup_id` into
// base/<id>/ (backup.info from the primary's sync-info, status SYNCING
// meanwhile), verifies every file against the backup manifest, then marks it
// WAITING_FOR_WALS and DONE once its WAL is here (catalog::check_backup_wals). Any
// error marks it FAILED ("failure syncing server S backup B: ..."). A backup
// already copied here is left alone; a FAILED or interrupted one is copied
// again. Requires the backup's sync-backup lock; takes its backup-id lock.
// Returns the backup's status afterwards.
Result<std::string> sync_backup(const locks::SyncBackupLock& lock, const Config& config, const ServerConfig& server,
                                const std::string& backup_id);

// What cron runs for a passive server (Barman's sync_cron): at most one
// sync-backup (the oldest DONE backup of the primary not copied here), then
// sync-wal, then the WAL check of backups WAITING_FOR_WALS. Never waits for a
// lock: a busy sync-backup or sync-wal lock is ErrorCode::busy (cron prints
// it as information and goes on). Returns lines describing what was done.
Result<std::vector<std::string>> run_passive_sync(const Config& config, const ServerConfig& server);

}  // namespace cellar::sync
