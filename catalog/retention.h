// Retention policies (SPEC §3, barman-behaviour.md §9): parsing
// "REDUNDANCY n" / "RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS" (a month is 31
// days), and the status of each backup under a policy: VALID, OBSOLETE,
// OBSOLETE* (outside the window but kept for minimum_redundancy), KEEP:FULL,
// KEEP:STANDALONE, or "-" (not DONE, or no policy). Pure functions: the
// decisions are table-tested without any files.
#pragma once

#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "catalog/backup_values.h"
#include "common/status.h"

namespace cellar::catalog {

struct RetentionPolicy {
  enum class Kind { redundancy, window } kind = Kind::redundancy;
  int count = 0;      // REDUNDANCY n
  int64_t seconds = 0;  // RECOVERY WINDOW length
  std::string text;   // normalised, e.g. "REDUNDANCY 2"
};

// Nothing for an empty string; a usage error for an invalid one.
Result<std::optional<RetentionPolicy>> parse_retention_policy(const std::string& text);

struct RetentionInput {
  std::string id;
  BackupStatus status = BackupStatus::empty;  // effective status
  std::time_t end_time = 0;
  std::string keep;     // "", "full", "standalone"
};

// Statuses by id. `backups` in any order.
std::map<std::string, std::string> retention_report(const std::optional<RetentionPolicy>& policy,
                                                    int minimum_redundancy, std::time_t now,
                                                    const std::vector<RetentionInput>& backups);

}  // namespace cellar::catalog
