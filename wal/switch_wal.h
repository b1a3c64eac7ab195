// switch-wal: closes the server's current WAL segment (pg_switch_wal(), with
// a CHECKPOINT first when forced) and optionally waits until the closed
// segment is in the archive.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/status.h"

namespace cellar::wal {

struct SwitchResult {
  bool switched = false;     // false: no WAL written since the last switch
  std::string closed_segment;  // the segment that was closed, when switched
};

// Connects with `conninfo` (a normal connection). Fails with the server's message.
Result<SwitchResult> switch_wal(const std::string& conninfo, bool force);

// Waits until is_archived or the timeout; a timeout is a failure with a hint.
Status wait_archived(const std::string& server_dir, const std::string& server, const std::string& segment,
                     std::chrono::seconds timeout);

}  // namespace cellar::wal
