// The copy step of `cellar backup --incremental` (docs/incremental.md): a
// backup taken between pg_backup_start() and pg_backup_stop() on a normal
// connection, reading files through pg_read_binary_file() (as pg_rewind
// does) instead of BASE_BACKUP, guided by the changed-block map of the WAL
// between the parent's start and this backup's start (incr/change_map.h).
//
// What is stored, under the same paths a full backup uses:
//   a relation segment the parent chain has, not whole-copied by the map
//     -> INCREMENTAL.<name>: its length and only its changed blocks
//   new files, non-relation files, fsm and vm forks, init forks, files of a
//   database the map says was created or dropped, relations created or
//   dropped in the range                              -> the whole file
// plus backup_label from pg_backup_stop() and a backup_manifest that cellar
// writes itself (the stored files, each with its CRC-32C).
//
// When the map cannot be trusted (the start's WAL never gets archived, a
// timeline other than the parent's, a segment missing or undecodable) the
// server's backup is stopped and `fallback` says why, with nothing stored:
// the caller then takes a full backup instead.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "backup/file_pipeline.h"
#include "catalog/backup_info.h"
#include "pg/connection.h"

namespace cellar::backup {

struct IncrementalRequest {
  pg::Connection* sql = nullptr;
  // Opens another connection to the server: reads go through `readers`.
  std::function<Result<pg::Connection>()> connect;
  unsigned readers = 1;
  std::string server_dir;  // the catalogue: where the WAL of the map is
  std::string backup_dir;  // the new backup's directory (exists, empty but backup.info)
  std::string parent_dir;  // the parent backup's directory
  catalog::BackupInfo parent;
  std::string label;
  bool fast_checkpoint = false;
  uint64_t segment_size = 0;
  PipelineOptions pipeline;
  std::chrono::seconds wal_wait{60};       // for the segment holding the start LSN to be archived
  std::function<void()> archive;           // one archive-wal pass
  std::function<void(uint64_t)> progress;  // bytes read from the server so far
};

struct IncrementalCopied {
  std::string fallback;  // not empty: why this cannot be an incremental; nothing was stored
  uint64_t start_lsn = 0, end_lsn = 0;
  uint32_t timeline = 0;
  std::vector<catalog::Tablespace> tablespaces;
  uint64_t size = 0;          // bytes stored (after compression)
  uint64_t cluster_size = 0;  // bytes stored before compression
  uint64_t read_bytes = 0;    // bytes read from the server
  size_t whole_files = 0;
  size_t incremental_files = 0;  // relation segments stored as their changed blocks
  size_t unchanged_files = 0;    // relation segments in the manifest only (unchanged)
  uint64_t changed_blocks = 0;
};

// Fails when PostgreSQL or the repository fails mid-copy (the caller marks
// the backup FAILED); a map that cannot be trusted is not a failure.
Result<IncrementalCopied> copy_incremental(const IncrementalRequest& request);

}  // namespace cellar::backup
