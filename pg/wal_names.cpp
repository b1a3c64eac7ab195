#include "pg/wal_names.h"

#include <cstdio>
#include <cstdlib>

namespace cellar::pg {
namespace {

bool is_upper_hex(const std::string& s, size_t from, size_t len) {
  if (from + len > s.size()) return false;
  for (size_t i = from; i < from + len; ++i) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

uint64_t hex_at(const std::string& s, size_t from, size_t len) {
  return std::strtoull(s.substr(from, len).c_str(), nullptr, 16);
}

}  // namespace

std::string format_lsn(Lsn lsn) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%X/%X", static_cast<uint32_t>(lsn >> 32), static_cast<uint32_t>(lsn));
  return buf;
}

std::optional<Lsn> parse_lsn(const std::string& text) {
  auto slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash > 8 || text.size() - slash - 1 == 0 ||
      text.size() - slash - 1 > 8)
    return std::nullopt;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == slash) continue;
    char c = text[i];
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  uint64_t hi = std::strtoull(text.substr(0, slash).c_str(), nullptr, 16);
  uint64_t lo = std::strtoull(text.substr(slash + 1).c_str(), nullptr, 16);
  return (hi << 32) | lo;
}

std::string make_segment_name(TimeLineId tli, SegNo segno, uint64_t seg_size) {
  uint64_t per_id = 0x100000000ULL / seg_size;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08X%08X%08X", tli, static_cast<uint32_t>(segno / per_id),
                static_cast<uint32_t>(segno % per_id));
  return buf;
}

std::string make_history_name(TimeLineId tli) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08X.history", tli);
  return buf;
}

std::optional<WalFileName> parse_wal_file_name(const std::string& name, uint64_t seg_size) {
  uint64_t per_id = 0x100000000ULL / seg_size;
  if (name.size() == 16 && is_upper_hex(name, 0, 8) && name.compare(8, 8, ".history") == 0) {
    WalFileName w{WalFileKind::history};
    w.tli = static_cast<TimeLineId>(hex_at(name, 0, 8));
    return w.tli == 0 ? std::nullopt : std::optional(w);
  }
  if (name.size() < 24 || !is_upper_hex(name, 0, 24)) return std::nullopt;
  WalFileName w{WalFileKind::segment};
  w.tli = static_cast<TimeLineId>(hex_at(name, 0, 8));
  uint64_t log = hex_at(name, 8, 8), seg = hex_at(name, 16, 8);
  if (w.tli == 0 || seg >= per_id) return std::nullopt;
  w.segno = log * per_id + seg;
  std::string rest = name.substr(24);
  if (rest.empty()) return w;
  if (rest == ".partial") {
    w.kind = WalFileKind::partial;
    return w;
  }
  if (rest.size() == 16 && rest[0] == '.' && is_upper_hex(rest, 1, 8) && rest.compare(9, 7, ".backup") == 0) {
    w.kind = WalFileKind::backup_label;
    w.offset = static_cast<uint32_t>(hex_at(rest, 1, 8));
    return w;
  }
  return std::nullopt;
}

bool is_segment_name(const std::string& name) { return name.size() == 24 && is_upper_hex(name, 0, 24); }

std::string wal_hash_dir(const std::string& name) { return name.substr(0, 16); }

}  // namespace cellar::pg
