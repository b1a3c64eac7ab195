// Which archived WAL files a recovery needs, read from xlog.db: every
// segment from the backup's begin_wal on, on the backup's timeline and the
// later ones (up to a numeric --target-tli), and every history file. An
// immediate target stops at end_wal, an LSN target one segment past the
// target's (recovery reads the record after the target to stop on it);
// other targets need all the WAL there is, as PostgreSQL cannot know where a
// time, xid or restore point is before it reads it. Backup label files are
// never needed. Segments begin_wal..end_wal must all be there: without them
// the backup cannot even become consistent.
#pragma once

#include <string>
#include <vector>

#include "catalog/backup_info.h"
#include "common/status.h"
#include "recover/recover_copy.h"
#include "recover/recover_target.h"

namespace cellar::recover {

// Copy jobs (from wals/, decompressed) into `dest_dir`. Fails naming the
// first missing segment of begin_wal..end_wal.
Result<std::vector<CopyJob>> plan_wal(const std::string& server_dir, const catalog::BackupInfo& info,
                                      const PreparedTarget& target, const std::string& dest_dir);

// Checks only that begin_wal..end_wal are archived (for --get-wal).
Status check_backup_wal_archived(const std::string& server_dir, const catalog::BackupInfo& info);

}  // namespace cellar::recover
