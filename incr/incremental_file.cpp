#include "incr/incremental_file.h"

#include <charconv>

namespace cellar::incr {
namespace {

constexpr char kMagic[4] = {'C', 'E', 'I', '1'};

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t get_u32(std::string_view b, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + static_cast<size_t>(i)]);
  return v;
}

// A decimal number making up all of `text`.
std::optional<uint32_t> number(std::string_view text) {
  uint32_t v = 0;
  if (text.empty() || (text[0] == '0' && text.size() > 1)) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

// "<rel>[_fork][.segno]" in database `db` of tablespace `spc`.
std::optional<RelationSegment> parse_file_name(std::string_view name, uint32_t spc, uint32_t db) {
  RelationSegment out;
  out.fork.spc = spc;
  out.fork.db = db;
  if (size_t dot = name.find('.'); dot != std::string_view::npos) {
    auto seg = number(name.substr(dot + 1));
    if (!seg) return std::nullopt;
    out.segno = *seg;
    name = name.substr(0, dot);
  }
  if (size_t us = name.find('_'); us != std::string_view::npos) {
    std::string_view fork = name.substr(us + 1);
    if (fork == "fsm")
      out.fork.fork = 1;
    else if (fork == "vm")
      out.fork.fork = 2;
    else if (fork == "init")
      out.fork.fork = 3;
    else
      return std::nullopt;
    name = name.substr(0, us);
  }
  auto rel = number(name);
  if (!rel) return std::nullopt;
  out.fork.rel = *rel;
  return out;
}

std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> parts;
  for (size_t at = 0;;) {
    size_t slash = path.find('/', at);
    parts.push_back(path.substr(at, slash == std::string_view::npos ? std::string_view::npos : slash - at));
    if (slash == std::string_view::npos) return parts;
    at = slash + 1;
  }
}

}  // namespace

std::string encode_incremental_header(const IncrementalHeader& header) {
  std::string out(kMagic, sizeof kMagic);
  put_u32(out, kBlockSize);
  put_u32(out, header.truncate_blocks);
  put_u32(out, static_cast<uint32_t>(header.blocks.size()));
  for (uint32_t b : header.blocks) put_u32(out, b);
  return out;
}

Result<IncrementalHeader> parse_incremental(std::string_view bytes, const std::string& what) {
  auto bad = [&](const std::string& why) { return Status::failed("incremental file " + what + " is damaged: " + why); };
  if (bytes.size() < 16 || bytes.substr(0, 4) != std::string_view(kMagic, 4)) return bad("no CEI1 header");
  if (get_u32(bytes, 4) != kBlockSize) return bad("block size " + std::to_string(get_u32(bytes, 4)));
  IncrementalHeader h;
  h.truncate_blocks = get_u32(bytes, 8);
  uint32_t count = get_u32(bytes, 12);
  if (count > kSegmentBlocks || bytes.size() < 16 + 4 * static_cast<size_t>(count)) return bad("truncated block list");
  h.blocks.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t b = get_u32(bytes, 16 + 4 * static_cast<size_t>(i));
    if (b >= h.truncate_blocks || (!h.blocks.empty() && b <= h.blocks.back()))
      return bad("block " + std::to_string(b) + " out of order or past the length");
    h.blocks.push_back(b);
  }
  if (bytes.size() != h.file_size())
    return bad(std::to_string(bytes.size()) + " bytes, expected " + std::to_string(h.file_size()));
  return h;
}

std::optional<RelationSegment> parse_relation_path(const std::string& manifest_path) {
  auto parts = split(manifest_path);
  if (parts.size() == 2 && parts[0] == "global") return parse_file_name(parts[1], kGlobalTablespace, 0);
  if (parts.size() == 3 && parts[0] == "base") {
    auto db = number(parts[1]);
    return db ? parse_file_name(parts[2], kDefaultTablespace, *db) : std::nullopt;
  }
  if (parts.size() == 5 && parts[0] == "pg_tblspc" && parts[2].rfind("PG_", 0) == 0) {
    auto spc = number(parts[1]), db = number(parts[3]);
    return spc && db ? parse_file_name(parts[4], *spc, *db) : std::nullopt;
  }
  return std::nullopt;
}

std::string incremental_path(const std::string& path) {
  size_t slash = path.rfind('/');
  size_t at = slash == std::string::npos ? 0 : slash + 1;
  return path.substr(0, at) + std::string(kIncrementalPrefix) + path.substr(at);
}

std::optional<std::string> whole_path_of(const std::string& path) {
  size_t slash = path.rfind('/');
  size_t at = slash == std::string::npos ? 0 : slash + 1;
  if (path.compare(at, kIncrementalPrefix.size(), kIncrementalPrefix) != 0) return std::nullopt;
  return path.substr(0, at) + path.substr(at + kIncrementalPrefix.size());
}

}  // namespace cellar::incr
