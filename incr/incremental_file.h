// What an incremental backup stores for a relation file segment that its
// parent already has (docs/incremental.md): INCREMENTAL.<name> beside where
// the whole file would be, holding the segment's length in blocks when it
// was read and the blocks that changed since the parent, with their bytes.
// Restoring takes the file from the chain's newest whole copy, cuts or
// extends it to each incremental's length and writes its blocks, oldest
// incremental first.
//
// Layout, integers little-endian:
//   "CEI1"  magic
//   u32     block size (8192)
//   u32     truncate_blocks: the segment's length, in blocks
//   u32     count of blocks
//   count × u32  block numbers, relative to the segment, ascending, each
//                below truncate_blocks
//   count × block size  the blocks, in the same order
// Also which manifest paths are relation file segments, and of which fork.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "incr/change_map.h"

namespace cellar::incr {

constexpr uint32_t kBlockSize = 8192;
constexpr uint32_t kSegmentBlocks = 131072;  // RELSEG_SIZE: 1 GiB segments
constexpr uint32_t kDefaultTablespace = 1663, kGlobalTablespace = 1664;
inline constexpr std::string_view kIncrementalPrefix = "INCREMENTAL.";

struct IncrementalHeader {
  uint32_t truncate_blocks = 0;
  std::vector<uint32_t> blocks;
  size_t data_offset() const { return 16 + 4 * blocks.size(); }
  size_t file_size() const { return data_offset() + static_cast<size_t>(kBlockSize) * blocks.size(); }
};

// The header's bytes; the blocks follow.
std::string encode_incremental_header(const IncrementalHeader& header);
// The header of a whole incremental file `bytes`; fails naming `what` when the
// magic, block size, order or length is wrong.
Result<IncrementalHeader> parse_incremental(std::string_view bytes, const std::string& what);

// A relation file segment: base/<db>/<rel>[_fsm|_vm|_init][.<segno>],
// global/<rel>..., pg_tblspc/<spc>/<PG_15_...>/<db>/<rel>...
struct RelationSegment {
  RelFork fork;
  uint32_t segno = 0;
};
// Nothing for other files, and for temporary relations (t<backend>_<rel>).
std::optional<RelationSegment> parse_relation_path(const std::string& manifest_path);

// "base/1/1259" -> "base/1/INCREMENTAL.1259", and back (nothing when `path`
// is no incremental's name).
std::string incremental_path(const std::string& path);
std::optional<std::string> whole_path_of(const std::string& path);

}  // namespace cellar::incr
