// switch-wal: closes the server's current WAL segment (pg_switch_wal(), with
// a CHECKPOINT first when forced) and optionally waits until the closed
// segment is in the archive, archiving it itself meanwhile. Not here: how
// the segment reaches streaming/ (receive-wal) or incoming/ (archive_command).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/status.h"
#include "wal/archive.h"

namespace cellar::wal {

struct SwitchResult {
  bool switched = false;       // false: no WAL written since the last switch
  std::string closed_segment;  // the segment that was closed, when switched
};

// Connects with `conninfo` (a normal connection). Fails with the server's message.
Result<SwitchResult> switch_wal(const std::string& conninfo, bool force);

// Waits until `segment` is archived (is_archived), running archive-wal
// in-process between looks, as Barman's wait_for_wal does, so that no cron is
// needed. When the archive-wal lock is busy (cron or another archive-wal
// runs) it just goes on waiting: that run archives the segment. Fails with
// archive-wal's error, or after `timeout` with a hint that says whether a
// receive-wal is running for the server.
Status wait_archived(const ArchiveOptions& options, const std::string& segment, std::chrono::seconds timeout);

}  // namespace cellar::wal
