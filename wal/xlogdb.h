// The WAL catalogue <home>/<server>/wals/xlog.db (SPEC §3): one line per
// archived file, in archive (WAL) order,
//   NAME<TAB>SIZE<TAB>EPOCH_TIME<TAB>COMPRESSION\n
// NAME is the WAL file name without codec suffix (segment, TTTTTTTT.history or
// <segment>.<offset>.backup), SIZE the bytes stored in wals/ (compressed size,
// as Barman), EPOCH_TIME the source file's mtime in seconds (with a fraction),
// COMPRESSION one of none|gzip|lz4|zstd. The reader also accepts Barman's
// files: fields split on any whitespace, 3 to 5 of them, "None" for none.
// Writers append under the xlogdb lock and fsync each batch; a crash can only
// leave a torn last line (no '\n'), which load ignores and reports and the
// next append cuts off. This module owns the format; what goes in it is
// archive-wal's business.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/codec.h"
#include "common/status.h"
#include "locks/typed_lock.h"

namespace cellar::wal {

struct XlogEntry {
  std::string name;   // WAL file name, no codec suffix
  uint64_t size = 0;  // bytes stored in wals/
  double time = 0;    // epoch seconds
  codec::Codec compression = codec::Codec::none;
  std::string encryption;  // 5th field when set: "aes-256-gcm:<key id>" (cellar's; Barman writes 4)
  bool operator==(const XlogEntry&) const = default;
};

// One line, with its '\n'.
std::string format_xlog_entry(const XlogEntry& entry);
// One line without '\n'; nothing if it is not 3-5 fields of the right types.
std::optional<XlogEntry> parse_xlog_entry(const std::string& line);

struct XlogDb {
  std::vector<XlogEntry> entries;  // file order
  std::string torn_tail;           // a final line without '\n', ignored ("" if none)

  const XlogEntry* find(const std::string& name) const;
  bool contains(const std::string& name) const { return find(name) != nullptr; }
  // Entries whose name sorts at or after `name` (WAL order), in file order.
  std::vector<XlogEntry> from(const std::string& name) const;
  const XlogEntry* last() const { return entries.empty() ? nullptr : &entries.back(); }
};

// <server_dir>/wals/xlog.db
std::string xlogdb_path(const std::string& server_dir);

// Reads the catalogue. A missing file is an empty catalogue. A torn last line
// is left out and reported in torn_tail (and logged as a warning). Fails with
// the path and line number on any other malformed line.
Result<XlogDb> load_xlogdb(const std::string& path);

// Appends `entries` (one write, then fsync) to the catalogue at `path`,
// creating it 0600 (and fsyncing its directory) if needed. A torn last line
// left by a crashed writer is cut off first. Requires the server's xlogdb lock,
// still current (fencing, SPEC §9): else nothing is written.
Status append_xlogdb(const locks::XlogdbLock& lock, const std::string& path, const std::vector<XlogEntry>& entries);

// Replaces the whole catalogue with `entries` durably (temp, fsync, rename),
// e.g. after retention removed WAL. Requires the server's xlogdb lock.
Status save_xlogdb(const locks::XlogdbLock& lock, const std::string& path, const std::vector<XlogEntry>& entries);

}  // namespace cellar::wal
