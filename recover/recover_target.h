// Recovery targets of `cellar recover` (--target-time, --target-xid,
// --target-lsn, --target-name, --target-immediate, --target-tli,
// --target-action, --exclusive): checks them against the backup and turns
// them into PostgreSQL's recovery_target_* settings. Knows nothing about
// files.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "catalog/backup_info.h"
#include "common/status.h"
#include "pg/wal_names.h"

namespace cellar::recover {

enum class TargetKind { none, time, xid, lsn, name, immediate };

// The target options as given.
struct RecoveryTarget {
  TargetKind kind = TargetKind::none;  // none: replay all the WAL there is
  std::string value;                   // time, xid, LSN or restore point name
  std::string tli;                     // "" (latest), "latest", "current" or a number
  std::string action;                  // "" (PostgreSQL's default, pause), pause, promote, shutdown
  bool exclusive = false;              // stop just before the target (time, xid, LSN)
};

using RecoverySetting = std::pair<std::string, std::string>;  // name, unquoted value

struct PreparedTarget {
  std::vector<RecoverySetting> settings;  // recovery_target_*, in the order to write
  std::optional<pg::Lsn> lsn;             // an LSN target: WAL beyond it is not needed
  bool immediate = false;                 // only the backup's own WAL is needed
  std::optional<pg::TimeLineId> tli;      // a numeric --target-tli
  std::vector<std::string> warnings;
};

// Validates `target` and checks it against `info` (time ≥ end_time, LSN ≥
// end_xlog). Usage errors name the option and say what to do.
Result<PreparedTarget> prepare_target(const RecoveryTarget& target, const catalog::BackupInfo& info);

struct TargetTime {
  std::time_t epoch = 0;
  std::string fraction;  // digits after the second, "" for none
  bool had_zone = false;
};

// "YYYY-MM-DD HH:MM:SS[.ffffff][Z|±HH[:MM]|±HHMM]" ('T' may separate date and
// time); without a zone the local time zone is assumed.
std::optional<TargetTime> parse_target_time(const std::string& text);

// The same instant as PostgreSQL reads it without ambiguity:
// "YYYY-MM-DD HH:MM:SS[.ffffff]+HH:MM" in the local zone.
std::string format_target_time(const TargetTime& t);

}  // namespace cellar::recover
