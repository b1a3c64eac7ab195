// PostgreSQL's backup_manifest (version 1, PG13-16; pg-protocol.md §A.6) as
// cellar reads it: the file list (path, size, checksum) and the
// Manifest-Checksum, the SHA-256 of every byte before that key. Also where
// each manifest path is stored inside a cellar backup directory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/codec.h"
#include "common/status.h"

namespace cellar::catalog {

struct ManifestFile {
  std::string path;  // decoded (Encoded-Path is hex-decoded)
  uint64_t size = 0;
  std::string checksum_algorithm;  // "CRC32C", "NONE", ...
  std::string checksum;            // hex as written
  // cellar's incrementals only ("Cellar-Unchanged-Blocks"): an
  // INCREMENTAL.<name> that is not stored because the segment did not change
  // since the parent. Its bytes are the header of an incremental of this many
  // blocks and no changed block (incr/incremental_file.h), which size and
  // checksum describe.
  std::optional<uint32_t> unchanged_blocks{};
};

struct Manifest {
  std::vector<ManifestFile> files;
  std::string checksum;  // Manifest-Checksum
};

Result<Manifest> parse_manifest(const std::string& text);

// The WAL a backup needs, as its manifest's WAL-Ranges entry.
struct WalRange {
  uint64_t timeline = 0;
  uint64_t start_lsn = 0, end_lsn = 0;
};

// A version 1 manifest of `files` (CRC32C checksums) and `wal`, ending with
// its Manifest-Checksum: what cellar writes for the backups it assembles
// itself (incrementals), in the shape PostgreSQL writes for BASE_BACKUP.
std::string make_manifest(const std::vector<ManifestFile>& files, const WalRange& wal);

// Ok when Manifest-Checksum is the SHA-256 of the text before that key.
Status check_manifest_checksum(const std::string& text);

// Stored file of manifest path `path` in `backup_dir`: pg_tblspc/<oid>/rest →
// <backup_dir>/<oid>/rest; anything else → <backup_dir>/data/path; plus the
// codec suffix.
std::string stored_path_of(const std::string& backup_dir, const std::string& path, codec::Codec codec);

}  // namespace cellar::catalog
