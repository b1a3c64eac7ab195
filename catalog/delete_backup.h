// delete and keep (SPEC §1, barman-behaviour.md §9).
//
// delete refuses a kept backup, a running one (its id lock is held), one
// that incremental backups (not FAILED) name as their parent, and a
// DONE backup when deleting it would leave fewer DONE backups than
// minimum_redundancy. Under the backup's id lock it renames base/<id> to
// base/<id>.deleting (one durable rename: from then on no reader sees the
// backup), removes the WAL no longer needed, then the tree. WAL rule: when
// the deleted backup was the oldest, segments before the begin_wal of the
// oldest remaining backup go; with no backup left, segments up to its
// end_wal go. History files always stay. xlog.db is rewritten (under the
// xlogdb lock) before the files are unlinked, so a crash leaves at worst
// unlisted files, never listed missing ones.
//
// keep marks a DONE backup `full` or `standalone` in backup.info (keep=),
// which retention and delete respect; release clears it.
#pragma once

#include <string>
#include <vector>

#include "catalog/catalogue.h"
#include "config/config.h"

namespace cellar::catalog {

struct DeleteReport {
  std::string id;
  std::vector<std::string> removed_wals;
};

// `arg` is a BACKUP argument (id, name, latest, ...). Refusals are failures
// with a hint; a held id lock is busy.
Result<DeleteReport> delete_backup(const Config& config, const ServerConfig& server, const std::string& arg);

// Removes base/*.deleting trees left by an interrupted delete.
void clean_interrupted_deletes(const std::string& server_dir, locks::LockManager& locks, const std::string& server);

// target "full" or "standalone"; "" releases. Requires a DONE backup to keep.
Status set_keep(const Config& config, const ServerConfig& server, const std::string& arg, const std::string& target);

}  // namespace cellar::catalog
