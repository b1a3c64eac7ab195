// archive-wal (SPEC §1, §3, §7): moves complete WAL segments, TTTTTTTT.history
// and <segment>.<offset>.backup files from <server>/streaming/ and
// <server>/incoming/ into wals/ (see wal_store.h), compressed with the
// server's codec, in WAL (name) order, and records each in xlog.db.
// Each file goes: compressed to "<final>.tmp" in its wals/ directory, fsync;
// then, under the xlogdb lock, rename to the final name, fsync the directory,
// append to xlog.db (fsync); then the source is unlinked and its directory
// fsynced. A kill -9 at any instant therefore loses nothing and duplicates
// nothing: on the next run a source whose file is already in wals/ with the
// same content is catalogued if missing and dropped. A source whose name is
// already archived with different content goes to
// errors/<name>.<YYYYmmddTHHMMSSZ>.duplicate (the archive is never
// overwritten); invalid names and segments of the wrong size (once older than
// a minute, so a slow archive_command copy is not caught midway) go to
// errors/<name>.<stamp>.unknown. A segment whose first page header is not
// that segment's (zero-filled, renamed, another segment size) goes to
// errors/<name>.<stamp>.unknown too, and one of another cluster (its system
// identifier is not identity.json's) to errors/<name>.<stamp>.foreign.
// `.partial`, `*.tmp` and dot files are left
// alone. Not here: receiving WAL (receive-wal), retention, sync-wal.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/codec.h"
#include "common/status.h"
#include "config/config.h"
#include "locks/lock_backend.h"
#include "locks/typed_lock.h"
#include "pg/wal_names.h"

namespace cellar::wal {

struct ArchiveOptions {
  std::string server;                   // server name (messages, lock names)
  std::string server_dir;               // <home>/<server>
  locks::LockManager* locks = nullptr;  // the configuration's lock manager (not owned)
  codec::Codec compression = codec::Codec::none;
  int level = 0;  // 0 = the codec's default
  uint64_t segment_size = pg::kDefaultSegmentSize;
  uint64_t system_id = 0;  // identity.json's; 0 = not known yet (no check of a segment's owner)
};

// The server's options: compression and level from the configuration, the
// segment size from <server>/identity.json (16 MiB when it is not there yet).
// Fails if identity.json is corrupt or holds an impossible segment size.
Result<ArchiveOptions> archive_options_for(const Config& config, const ServerConfig& server);

struct ArchiveReport {
  int archived = 0;                          // files newly stored in wals/
  uint64_t bytes = 0;                        // their size before compression
  uint64_t stored_bytes = 0;                 // their size in wals/
  int catalogued = 0;                        // found in wals/ but missing from xlog.db (after a crash): added
  int duplicates_dropped = 0;                // already archived with the same content: source removed
  std::vector<std::string> moved_to_errors;  // paths under errors/
};

// Takes the archive-wal lock and archives. A busy lock is ErrorCode::busy
// with the SPEC §2 message; cron tells it from a failure by that code and
// prints it as an information line. Any I/O failure stops the run at that
// file (later files wait for the next run, to keep WAL order) and is returned.
Result<ArchiveReport> archive_wal(const ArchiveOptions& options);
// The same for a caller that already holds the lock.
Result<ArchiveReport> archive_wal(const locks::ArchiveWalLock& lock, const ArchiveOptions& options);

// "archived 12 WAL files (180.0 MiB) for server 'main'", plus what was dropped
// or moved to errors/.
std::string summary_line(const ArchiveReport& report, const std::string& server);

// "16.0 MiB": sizes for humans.
std::string human_size(uint64_t bytes);

}  // namespace cellar::wal
