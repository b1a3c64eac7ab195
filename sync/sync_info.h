// sync-info (SPEC §1), run on the primary node for a passive node: one JSON
// document with the server's DONE backups (every backup.info field), the WAL
// catalogue after a given point, the last catalogue line's name and byte
// position, cellar's version and the server's configuration (passwords
// redacted). Also the reader of the passive side's bookmark into it.
//
// Position semantics (xlog.db byte offsets, docs/on-disk-formats.md "Sync"):
//   - no LAST_WAL: every WAL from the first DONE backup's begin_wal on
//     (history files always), or the whole catalogue without backups;
//   - LAST_WAL: the WAL after it. LAST_POSITION, when given, is where the
//     LAST_WAL line starts (a previous answer's last_position; 0 is valid):
//     if that line names LAST_WAL the scan starts after it, else the whole
//     catalogue is scanned as without a position;
//   - a LAST_WAL older than the first or newer than the last catalogue line
//     fails (ErrorCode::failed, exit 1): the passive node then asks again
//     without LAST_WAL (full resynchronisation).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "config/config.h"
#include "wal/xlogdb.h"

namespace cellar::sync {

struct SyncInfoRequest {
  std::string last_wal;                   // "" = from the start
  std::optional<uint64_t> last_position;  // only with last_wal
};

// One complete xlog.db line and the byte offset where it starts.
struct PositionedEntry {
  wal::XlogEntry entry;
  uint64_t offset = 0;
};

// Every complete line of the catalogue at `path` with its offset (a torn last
// line is left out); a missing file is empty. Fails on a malformed line.
Result<std::vector<PositionedEntry>> read_positioned_xlogdb(const std::string& path);

// The sync-info document of `server`. Usage error for a malformed LAST_WAL,
// failed for one outside the catalogue (see above).
Result<Json> make_sync_info(const Config& config, const ServerConfig& server, const SyncInfoRequest& request);
// The same document for the copy of the server's archive at `server_dir`
// (a passive node reading its primary's repository).
Result<Json> make_sync_info_at(const Config& config, const ServerConfig& server, const std::string& server_dir,
                               const SyncInfoRequest& request);

}  // namespace cellar::sync
