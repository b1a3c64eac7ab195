// Shared helpers of the archive-wal and get-wal tests: synthetic WAL files
// (random bytes under valid names, segments opening with the long page
// header archive-wal checks) and readers of what landed in wals/.
#pragma once

#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <string>

#include "common/codec.h"
#include "common/fs.h"
#include "pg/wal_names.h"
#include "support/run.h"

namespace cellar::test {

inline std::string random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  return s;
}

inline std::string segment(uint64_t segno, uint64_t seg_size = pg::kDefaultSegmentSize, uint32_t tli = 1) {
  return pg::make_segment_name(tli, segno, seg_size);
}

// The system identifier of the synthetic cluster (identity.json of the tests
// that write one says the same).
inline constexpr uint64_t kTestSystemId = 7000000000000000001ULL;

// `size` random bytes for the segment `name`, its first 40 bytes the long
// page header PostgreSQL writes (pg/wal_page.h): magic, XLP_LONG_HEADER,
// timeline and address from the name, `system_id`, the segment size, 8 KiB
// blocks.
inline std::string wal_bytes(const std::string& name, uint64_t seed, uint64_t size = pg::kDefaultSegmentSize,
                             uint64_t system_id = kTestSystemId) {
  std::string s = random_bytes(size, seed);
  auto parsed = pg::parse_wal_file_name(name, size);
  REQUIRE(parsed);
  auto put = [&](size_t at, uint64_t v, size_t bytes) {
    for (size_t i = 0; i < bytes; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
  };
  put(0, 0xD110, 2);  // PostgreSQL 15's XLOG_PAGE_MAGIC
  put(2, 0x0002, 2);  // XLP_LONG_HEADER
  put(4, parsed->tli, 4);
  put(8, pg::segment_start(parsed->segno, size), 8);
  put(16, 0, 8);
  put(24, system_id, 8);
  put(32, size, 4);
  put(36, 8192, 4);
  return s;
}

// Writes `content` as <dir>/<name>, creating <dir>.
inline void put_file(const std::string& dir, const std::string& name, const std::string& content) {
  REQUIRE(make_dirs(dir));
  write_text(join_path(dir, name), content);
}

// The decompressed content of an archived file (codec from its suffix).
inline std::string unpack(const std::string& path) {
  auto text = read_file(path);
  REQUIRE(text);
  auto plain = codec::decompress_buffer(*text, codec::codec_of_suffix(path));
  REQUIRE(plain);
  return *plain;
}

}  // namespace cellar::test
