// Names that reach paths: server names (SPEC §5.3) and backup ids
// (YYYYMMDDTHHMMSS). Shapes owned here:
//   server name   1-64 of [A-Za-z0-9_.-], not starting with '.' or '-',
//                 not "all", "global" or "cellar", and not ending in
//                 "-<backup id>-sync" (that would make ".<s>-backup.lock"
//                 readable as a sync-backup lock: see locks/lock_names.h)
//   backup id     8 digits, 'T', 6 digits
#pragma once

#include <ctime>
#include <string>

#include "common/status.h"

namespace cellar {

// ok, or a usage error saying what is wrong with `name` and what to do.
Status validate_server_name(const std::string& name);
bool is_valid_server_name(const std::string& name);

bool is_backup_id(const std::string& s);
// Backup id for a local time.
std::string make_backup_id(std::time_t t);

}  // namespace cellar
