// Where a passive node reads its primary's archive (sync.h). Two ways:
//   - primary_ssh_command: the primary's cellar, run through that command
//     prefix, answers `sync-info` (JSON) and `sync-send` (a tar stream,
//     sync_stream.h);
//   - primary_repository: the primary's repository itself (a shared path or
//     the bucket both nodes are configured with), mounted at
//     layout::primary_repository_dir and only ever read; the passive node computes the same
//     sync-info document from it and reads the files directly, with no
//     process on the primary host.
// Either way the files arrive as TarHandler events, so sync-wal and
// sync-backup file and verify them the same way.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "common/tar_reader.h"
#include "config/config.h"

namespace cellar::sync {

class PrimarySource {
 public:
  virtual ~PrimarySource() = default;
  // The sync-info document after `last_wal` (may be ""). When the bookmark
  // is out of the primary's catalogue, asks again from the start (full
  // resynchronisation) with a warning.
  virtual Result<Json> info(const std::string& last_wal, uint64_t last_position) const = 0;
  // The archived WAL files `names`, as members named by their paths under wals/.
  virtual Status wal_files(const std::vector<std::string>& names, TarHandler& to) const = 0;
  // Every directory and file of the primary's DONE backup `backup_id` but backup.info.
  virtual Status backup_files(const std::string& backup_id, TarHandler& to) const = 0;
};

// The source the passive server `server` is configured with (they refer to
// `config` and `server`, which must outlive them).
std::unique_ptr<PrimarySource> primary_of(const Config& config, const ServerConfig& server);
std::unique_ptr<PrimarySource> ssh_primary(const ServerConfig& server);
std::unique_ptr<PrimarySource> repository_primary(const Config& config, const ServerConfig& server);

}  // namespace cellar::sync
