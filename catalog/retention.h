// Retention (SPEC §3, barman-behaviour.md §9): the status of each backup
// under a policy: VALID, OBSOLETE, OBSOLETE* (outside the window but kept for
// minimum_redundancy), KEEP:FULL, KEEP:STANDALONE, or "-" (not DONE, or no
// policy). Pure functions: the decisions are table-tested without any files.
// The policy itself ("REDUNDANCY n", "RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS")
// is parsed once, by the configuration (config/grammar.h).
#pragma once

#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "catalog/backup_values.h"
#include "common/status.h"
#include "config/grammar.h"

namespace cellar::catalog {

struct RetentionInput {
  std::string id;
  BackupStatus status = BackupStatus::empty;  // effective status
  std::time_t end_time = 0;
  std::string keep;      // "", "full", "standalone"
  std::string parent{};  // parent_backup_id of an incremental
};

// Statuses by id. `backups` in any order. A chain is obsolete only as a
// whole: an OBSOLETE backup that a backup not OBSOLETE (nor FAILED) needs,
// as its parent or further up its chain, is VALID.
std::map<std::string, std::string> retention_report(const std::optional<RetentionPolicy>& policy,
                                                    int minimum_redundancy, std::time_t now,
                                                    const std::vector<RetentionInput>& backups);

}  // namespace cellar::catalog
