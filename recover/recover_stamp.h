// The restore stamp: what `cellar recover` leaves in DEST so that a later
// `recover --delta` into it knows, without reading a file, that it still
// holds what cellar wrote there (docs/incremental.md, "Delta restore").
// - DEST/cellar_restore.stamp names the backup restored (id, system id,
//   timeline, start and stop LSNs) and, for every file cellar wrote with a
//   manifest checksum, its device, inode, size, mtime (ns) and CRC-32C.
// - A file is trusted only when all four of its stat fields are still the
//   stamp's: a write changes the mtime, a replacement the inode. Entries
//   whose mtime is not before the file system's time when the stamp is
//   written (a probe file's mtime: a write in the same tick would not
//   change the mtime) are left out, as are files compared only where the
//   WAL changed blocks (they may keep hint bits the backup lacks).
// - `recover --delta` removes the stamp before it writes anything, and
//   writes a new one only once DEST is complete and fsynced.
// Not here: how delta restore uses it (recover_delta.h, recover.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace cellar::recover {

inline constexpr const char* kStampFile = "cellar_restore.stamp";

struct FileStat {
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileStat&) const = default;
};

// lstat of `path`; nothing when it is absent or no regular file.
std::optional<FileStat> stat_file(const std::string& path);

// A file cellar wrote, with the CRC-32C (manifest hex) of its content.
struct StampedFile {
  std::string path;  // absolute
  FileStat stat;
  std::string crc32c;
};

struct RestoreStamp {
  std::string backup_id, systemid;
  uint32_t timeline = 0;
  uint64_t start_lsn = 0, stop_lsn = 0;
  std::map<std::string, StampedFile> files;  // by path

  // The entry of `path` when the file is still exactly what it records.
  const StampedFile* trusted(const std::string& path) const;
};

// Reads DEST's stamp: nothing when there is none or it is unreadable (a
// stamp only saves reads, so a damaged one gets a warning and is ignored).
Result<std::optional<RestoreStamp>> read_stamp(const std::string& dest);
// Removes it durably, so that no stamp survives once DEST starts to change.
Status remove_stamp(const std::string& dest);
// Both.
Result<std::optional<RestoreStamp>> take_stamp(const std::string& dest);

// Writes DEST's stamp for `stamp` (its files: what the copy recorded just
// after writing each), keeping only the files whose stat is still the one
// recorded and whose mtime is before now.
Status write_stamp(const std::string& dest, const RestoreStamp& stamp, const std::vector<StampedFile>& written);

// The stamp's text, and back (for tests; parse fails on anything malformed).
std::string format_stamp(const RestoreStamp& stamp);
Result<RestoreStamp> parse_stamp(const std::string& text);

}  // namespace cellar::recover
