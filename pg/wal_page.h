// The long page header that opens every WAL segment (PostgreSQL's
// XLogLongPageHeaderData, access/xlog_internal.h): magic, flags, timeline,
// the page's WAL address, then the cluster's system identifier, the segment
// size and the block size. archive-wal reads it to refuse a file that is not
// the segment its name says, or belongs to another cluster. Little-endian
// layout of x86-64 and arm64, as the server writes it:
//
//   0 uint16 xlp_magic      2 uint16 xlp_info      4 uint32 xlp_tli
//   8 uint64 xlp_pageaddr  16 uint32 xlp_rem_len  (4 bytes padding)
//  24 uint64 xlp_sysid     32 uint32 xlp_seg_size 36 uint32 xlp_xlog_blcksz
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pg/wal_names.h"

namespace cellar::pg {

inline constexpr size_t kLongPageHeaderSize = 40;

struct WalSegmentHeader {
  uint16_t magic = 0;
  TimeLineId tli = 0;
  Lsn page_address = 0;
  uint64_t system_id = 0;
  uint32_t segment_size = 0;
  uint32_t block_size = 0;
};

// The header in the first bytes of a segment; none when they are too few or
// do not carry the long-header flag (a zero-filled or foreign file).
std::optional<WalSegmentHeader> parse_segment_header(std::string_view first_bytes);

// "" when `header` is the first page of segment `name` (its timeline and
// address, `segment_size`, and `system_id` unless that is 0 = unknown), else
// what is wrong, e.g. "its pages belong to system 7301... (this server is 7299...)".
std::string segment_header_mismatch(const WalSegmentHeader& header, const WalFileName& name, uint64_t segment_size,
                                    uint64_t system_id);

}  // namespace cellar::pg
