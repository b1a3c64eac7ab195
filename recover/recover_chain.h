// The restore of an incremental backup (docs/incremental.md): its chain,
// from the backup down to a full one through parent_backup_id, each member's
// manifest read; then every INCREMENTAL.<name> of the backup, stored or
// unchanged (in its manifest only), becomes one job restoring <name>: the
// chain's newest whole copy, and every incremental since, oldest first
// (recover_copy.h applies them).
#pragma once

#include <string>

#include "catalog/backup_info.h"
#include "common/status.h"
#include "config/config.h"
#include "recover/recover_copy.h"

namespace cellar::recover {

// Turns the jobs `plan` has for the stored INCREMENTAL files of `backup`
// (in `dir`) into jobs of the whole files, and adds one for each unchanged
// entry. Fails when a parent is not a DONE backup of `server`, or the chain
// has no whole copy of a file.
Status plan_chain(const Config& config, const std::string& server, const catalog::BackupInfo& backup,
                  const std::string& dir, RestorePlan& plan);

}  // namespace cellar::recover
