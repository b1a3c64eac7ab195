#include "pg/wal_page.h"

#include <cstring>

namespace cellar::pg {
namespace {

constexpr uint16_t kLongHeaderFlag = 0x0002;  // XLP_LONG_HEADER

template <typename T>
T read_le(std::string_view bytes, size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  return static_cast<T>(v);
}

}  // namespace

std::optional<WalSegmentHeader> parse_segment_header(std::string_view b) {
  if (b.size() < kLongPageHeaderSize) return std::nullopt;
  uint16_t info = read_le<uint16_t>(b, 2);
  if (!(info & kLongHeaderFlag)) return std::nullopt;
  WalSegmentHeader h;
  h.magic = read_le<uint16_t>(b, 0);
  h.tli = read_le<uint32_t>(b, 4);
  h.page_address = read_le<uint64_t>(b, 8);
  h.system_id = read_le<uint64_t>(b, 24);
  h.segment_size = read_le<uint32_t>(b, 32);
  h.block_size = read_le<uint32_t>(b, 36);
  return h;
}

std::string segment_header_mismatch(const WalSegmentHeader& h, const WalFileName& name, uint64_t segment_size,
                                    uint64_t system_id) {
  if (system_id != 0 && h.system_id != system_id)
    return "its pages belong to system " + std::to_string(h.system_id) + " (this server is " +
           std::to_string(system_id) + ")";
  if (h.segment_size != segment_size)
    return "its header gives a segment size of " + std::to_string(h.segment_size) + " bytes, not " +
           std::to_string(segment_size);
  if (h.page_address != segment_start(name.segno, segment_size))
    return "its first page is at " + format_lsn(h.page_address) + ", not at the segment's start " +
           format_lsn(segment_start(name.segno, segment_size));
  // The first segment of a new timeline starts as a copy of the old one's:
  // an older timeline in its first page is normal, a newer one is not.
  if (h.tli > name.tli)
    return "its first page is on timeline " + std::to_string(h.tli) + ", after its name's " + std::to_string(name.tli);
  return "";
}

}  // namespace cellar::pg
