// LSNs and WAL file names are an API. Shapes owned here:
//   LSN                 "X/X" hex, e.g. "0/16B3748"
//   segment             24 uppercase hex: TTTTTTTTLLLLLLLLSSSSSSSS (timeline,
//                       log = segno / segs_per_xlogid, seg = segno % ...)
//   partial segment     <segment>.partial
//   history file        TTTTTTTT.history
//   backup label file   <segment>.XXXXXXXX.backup (offset in hex)
// Segment arithmetic takes the segment size (a power of two, 1 MB to 1 GB);
// names never embed it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace cellar::pg {

using Lsn = uint64_t;
using TimeLineId = uint32_t;
using SegNo = uint64_t;

constexpr uint64_t kDefaultSegmentSize = 16 * 1024 * 1024;

std::string format_lsn(Lsn lsn);
std::optional<Lsn> parse_lsn(const std::string& text);

inline SegNo segno_of(Lsn lsn, uint64_t seg_size) { return lsn / seg_size; }
inline Lsn segment_start(SegNo segno, uint64_t seg_size) { return segno * seg_size; }

std::string make_segment_name(TimeLineId tli, SegNo segno, uint64_t seg_size);
std::string make_history_name(TimeLineId tli);

enum class WalFileKind { segment, partial, history, backup_label };

struct WalFileName {
  WalFileKind kind;
  TimeLineId tli = 0;
  SegNo segno = 0;      // segment, partial, backup_label
  uint32_t offset = 0;  // backup_label
};

// Parses any of the shapes above; nothing for anything else.
std::optional<WalFileName> parse_wal_file_name(const std::string& name, uint64_t seg_size);
bool is_segment_name(const std::string& name);
// "000000010000000000000003" -> "0000000100000000" (the archive's hash dir).
std::string wal_hash_dir(const std::string& name);

}  // namespace cellar::pg
