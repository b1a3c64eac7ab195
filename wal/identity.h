// <home>/<server>/identity.json: what cellar learned about the PostgreSQL
// server the first time it talked to it (system id, version, WAL segment
// size). Used to refuse WAL or backups from a different cluster ("systemid
// coherence") and by archive-wal for the segment size. Saved durably.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"

namespace cellar::wal {

struct Identity {
  std::string systemid;
  int server_version = 0;  // e.g. 150004
  uint64_t xlog_segment_size = 0;
  int64_t first_seen = 0;  // epoch seconds
};

std::string identity_path(const std::string& server_dir);
// None when the file does not exist yet; an error if it is unreadable or corrupt.
Result<std::optional<Identity>> load_identity(const std::string& server_dir);
Status save_identity(const std::string& server_dir, const Identity& identity);

// Records `seen` the first time; afterwards fails if the system id differs.
Status check_or_record_identity(const std::string& server_dir, const std::string& server, const Identity& seen);

}  // namespace cellar::wal
