// What a range of archived WAL says changed in a server's relation files, for
// a block-incremental backup: the blocks named by block references, plus the
// changes WAL makes to files without naming blocks (creates, truncates, drops,
// whole databases copied or dropped). build_change_map reads the segments of
// the range from the server's catalogue and runs them through the WalDecoder
// (incr/wal_decoder.h). What it does not own: deciding which files to send
// whole (fsm and vm forks, unlogged relations) or writing incremental files;
// those belong to the backup that uses the map.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "common/status.h"

namespace cellar::incr {

// A relation fork as WAL names it.
struct RelFork {
  uint32_t spc = 0, db = 0, rel = 0;  // RelFileNode (spcNode, dbNode, relNode)
  uint8_t fork = 0;                   // 0 main, 1 fsm, 2 vm, 3 init
  auto operator<=>(const RelFork&) const = default;
};

// What changed in a WAL range.
struct ChangeMap {
  // Changed block numbers (absolute, relation-wide), from block references.
  std::map<RelFork, std::set<uint32_t>> blocks;
  // The smallest "limit block" seen: blocks >= limit must be copied again
  // whole from the server. SMGR_CREATE: 0; SMGR_TRUNCATE: its blkno for main
  // (flag HEAP) and vm (flag VM); dropped by a commit/abort: 0 for the main,
  // vm and init forks.
  std::map<RelFork, uint32_t> limits;
  // (spc, db): every file of that database in that tablespace must be copied
  // whole (DBASE CREATE_FILE_COPY, CREATE_WAL_LOG, DROP).
  std::set<std::pair<uint32_t, uint32_t>> whole_databases;
  uint64_t records = 0;  // records decoded (for tests and logs)

  // Lowers the limit of `fork` to `block` (a limit only ever goes down).
  void limit(const RelFork& fork, uint32_t block);
};

struct ChangeRange {
  // The server's catalogue directory; segments are read from
  // wal::wals_dir(server_dir), decompressed by their codec.
  std::string server_dir;
  uint32_t timeline = 0;
  uint64_t from_lsn = 0;  // decoding starts at the start of this LSN's segment
  uint64_t to_lsn = 0;    // every record starting before it is included
  uint64_t segment_size = 0;
  // Called with each segment's name before it is read: returns once the
  // segment can be read (archived, or known to be missing), or fails saying
  // why it never came. Null: a segment not archived yet is missing.
  std::function<Status(const std::string& segment)> await;
};

// The changes of every record in [start of from_lsn's segment, to_lsn).
// Fails naming the first missing segment ("WAL segment ... is not archived"),
// a segment of the wrong size, or what the decoder found wrong; the messages
// read well after "... falls back to a full backup because".
Result<ChangeMap> build_change_map(const ChangeRange& range);

}  // namespace cellar::incr
