// The backups of one server as cellar shows them: every base/<id>/backup.info,
// sorted by id, each with its effective status (a STARTED backup whose
// backup-id lock is free was killed: FAILED), resolution of the BACKUP
// argument (id, latest/last, oldest/first, last-failed, name), and the WAL
// check that turns WAITING_FOR_WALS into DONE (or FAILED when a segment is
// missing) — what `backup --wait` and cron call.
#pragma once

#include <string>
#include <vector>

#include "catalog/backup_info.h"
#include "common/status.h"
#include "config/config.h"
#include "locks/lock_backend.h"
#include "locks/typed_lock.h"

namespace cellar::catalog {

struct BackupEntry {
  BackupInfo info;
  std::string dir;                            // <home>/<server>/base/<id>
  BackupStatus status = BackupStatus::empty;  // effective status (see above)
  bool copy_done() const { return status == BackupStatus::waiting_for_wals || status == BackupStatus::done; }
};

std::string base_dir(const std::string& server_dir);

struct Catalogue {
  std::string server;
  std::string server_dir;
  locks::LockManager* locks = nullptr;  // the configuration's (not owned)
  std::vector<BackupEntry> backups;     // oldest first

  // Resolves BACKUP; usage errors name the server and the argument.
  Result<const BackupEntry*> resolve(const std::string& arg) const;
  // The newest DONE backup older than `id` (for reuse_backup), or null.
  const BackupEntry* previous_done(const std::string& id) const;
};

// Loads every backup of `server`; unreadable backup.info files are skipped
// with a warning in the log.
Result<Catalogue> load_catalogue(const Config& config, const std::string& server);
// The same for a copy of `server`'s archive kept at `server_dir` (a passive
// node's view of its primary's repository, layout::primary_repository_dir).
Result<Catalogue> load_catalogue_at(const Config& config, const std::string& server, const std::string& server_dir);

// True while some process or client hold has the backup-id lock of `id`
// (also when the lock manager cannot tell: nothing then treats it as free).
bool backup_in_use(locks::LockManager& locks, const std::string& server, const std::string& id);

// Marks FAILED (on disk) every STARTED backup whose backup-id lock is free.
// Requires the server's backup lock, so no new backup can start meanwhile.
Status fail_stale_backups(const locks::ServerBackupLock& lock, const Catalogue& catalogue);

// WAL check of a WAITING_FOR_WALS backup (Barman's check_backup): every
// segment from begin_wal to end_wal in wals/ → DONE; a missing segment with
// a later one archived → FAILED ("at least one WAL file is missing ..."),
// otherwise unchanged. Saves backup.info when the status changes.
// Requires the backup's id lock. Returns the (possibly new) status.
Result<BackupStatus> check_backup_wals(const locks::BackupIdLock& lock, const std::string& server_dir,
                                       const std::string& backup_dir);

// The segments begin_wal..end_wal of a backup (its timeline and segment size).
std::vector<std::string> required_segments(const BackupInfo& info);

}  // namespace cellar::catalog
