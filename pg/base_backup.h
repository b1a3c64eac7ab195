// BASE_BACKUP over a replication=true connection, PostgreSQL 15 syntax with
// TARGET 'client' (pg-protocol.md §A.6). This module speaks the protocol only:
// it sends the command, reads the start position and tablespace list, then
// hands every CopyData message to a BaseBackupSink as events ('n' new archive,
// 'd' data, 'p' progress, 'm' manifest start), then reads the end position.
// What the bytes mean (tar members, files on disk) belongs to backup/.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "pg/connection.h"
#include "pg/wal_names.h"

namespace cellar::pg {

struct BaseBackupOptions {
  std::string label;             // goes into backup_label
  bool fast_checkpoint = false;  // CHECKPOINT 'fast' instead of spread
  bool progress = false;         // PROGRESS: sizes in the tablespace list, 'p' messages
  // Once the archive stream has begun, no byte from the server for this
  // long fails the backup (a stalled walsender, a cut connection that TCP
  // has not noticed). The checkpoint before the stream is not bounded.
  std::chrono::milliseconds stall_timeout{300000};
};

struct TablespaceRow {
  std::optional<uint32_t> oid;      // none for the main data directory (last row)
  std::string location;             // "" for the main data directory
  std::optional<uint64_t> size_kb;  // only with progress
};

struct BaseBackupStart {
  Lsn start_lsn = 0;
  TimeLineId timeline = 0;
  std::vector<TablespaceRow> tablespaces;
};

struct BaseBackupEnd {
  Lsn end_lsn = 0;
  TimeLineId timeline = 0;
};

// Receives the stream's events in order. An error returned by any of them
// stops the backup (the connection is then unusable) and is returned by
// run_base_backup.
class BaseBackupSink {
 public:
  virtual ~BaseBackupSink() = default;
  virtual Status on_start(const BaseBackupStart& start) = 0;
  // 'n': archive `name` ("base.tar", "<oid>.tar") for tablespace `path` ("" = main).
  virtual Status on_archive(const std::string& name, const std::string& path) = 0;
  // 'd': bytes of the current archive, or of the manifest after on_manifest.
  virtual Status on_data(std::string_view bytes) = 0;
  // 'p': archive bytes done so far (before compression).
  virtual Status on_progress(uint64_t done) = 0;
  // 'm': every later on_data is backup_manifest content.
  virtual Status on_manifest() = 0;
};

// Runs the whole BASE_BACKUP. Fails with the server's message (e.g. the
// checksum failure XX001) or a protocol error naming the bad message.
Result<BaseBackupEnd> run_base_backup(Connection& conn, const BaseBackupOptions& options, BaseBackupSink& sink);

// The BASE_BACKUP command text for `options` (exposed for tests).
std::string base_backup_command(const BaseBackupOptions& options);

}  // namespace cellar::pg
