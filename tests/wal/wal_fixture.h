// Shared helpers of the archive-wal and get-wal tests: synthetic WAL files
// (random bytes under valid names) and readers of what landed in wals/.
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
