// The configuration side of recover: what it writes into the restored
// PGDATA so that PostgreSQL replays to the target and does not archive.
// - postgresql.conf and postgresql.auto.conf: lines setting archive_command,
//   restore_command, recovery_end_command or any recovery_target* are
//   commented out with "#CELLAR# " (the file is first copied to
//   <file>.origin, so the DBA can compare); settings that point outside
//   PGDATA (data_directory, hba_file, include, ...) are reported.
// - postgresql.auto.conf then gets cellar's block: restore_command, the
//   recovery_end_command, archive_command = 'false' and the recovery
//   targets (last in the file, so they win).
// - recovery.signal or standby.signal.
// Every file is written with the durable-write routine.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "recover/recover_target.h"

namespace cellar::recover {

struct RecoveryConfig {
  std::string header;  // comment line opening cellar's block
  std::string restore_command;
  std::string recovery_end_command;      // "" = none
  std::vector<RecoverySetting> targets;  // recovery_target_*
  bool standby = false;                  // standby.signal instead of recovery.signal
};

// Edits the configuration in `pgdata` as above. Returns warnings about
// settings the DBA should review.
Result<std::vector<std::string>> write_recovery_config(const std::string& pgdata, const RecoveryConfig& config);

// 'value' quoted for a PostgreSQL configuration file ('' doubles a quote).
std::string pg_quote(const std::string& value);
// A word for /bin/sh: as is when safe, else in single quotes.
std::string shell_quote(const std::string& word);

}  // namespace cellar::recover
