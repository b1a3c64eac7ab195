// LSNs and WAL file names (pg/wal_names.h): table-driven round trips, then the
// near misses that must be rejected, for 16 MB and 64 MB segments.
#include "pg/wal_names.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace cellar::pg;

namespace {
constexpr uint64_t k16MB = 16ULL * 1024 * 1024;
constexpr uint64_t k64MB = 64ULL * 1024 * 1024;
constexpr uint64_t k1GB = 1024ULL * 1024 * 1024;
}  // namespace

TEST_CASE("LSNs format as X/X and parse back", "[pg]") {
  struct Case {
    Lsn lsn;
    const char* text;
  };
  const std::vector<Case> cases = {
      {0, "0/0"},
      {0x16B3748, "0/16B3748"},
      {0x100000000ULL, "1/0"},
      {0xA00000010ULL, "A/10"},
      {0xFFFFFFFFFFFFFFFFULL, "FFFFFFFF/FFFFFFFF"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    CHECK(format_lsn(c.lsn) == c.text);
    REQUIRE(parse_lsn(c.text).has_value());
    CHECK(*parse_lsn(c.text) == c.lsn);
  }
  // PostgreSQL's pg_lsn input takes lowercase hex too.
  CHECK(parse_lsn("0/16b3748") == Lsn{0x16B3748});
}

TEST_CASE("malformed LSNs are rejected", "[pg]") {
  for (const char* text : {"", "0", "/", "0/", "/0", "0//0", "0/0/0", "G/0", "0/G", "0x1/0", "-1/0", "+1/0", " 0/0",
                           "0/0 ", "123456789/0", "0/123456789", "0/1.5"}) {
    INFO("\"" << text << "\"");
    CHECK_FALSE(parse_lsn(text).has_value());
  }
}

TEST_CASE("segment numbers follow the segment size", "[pg]") {
  CHECK(segno_of(0x16B3748, k16MB) == 1);
  CHECK(segno_of(0x100000000ULL, k16MB) == 256);
  CHECK(segno_of(0x100000000ULL, k64MB) == 64);
  CHECK(segment_start(3, k16MB) == 3 * k16MB);
  CHECK(segment_start(segno_of(0x2FFFFFF, k16MB), k16MB) == 0x2000000);
}

TEST_CASE("segment names round trip for 16 MB, 64 MB and 1 GB segments", "[pg]") {
  struct Case {
    TimeLineId tli;
    SegNo segno;
    uint64_t seg_size;
    const char* name;
  };
  const std::vector<Case> cases = {
      {1, 0, k16MB, "000000010000000000000000"},
      {1, 1, k16MB, "000000010000000000000001"},
      {1, 0xFF, k16MB, "0000000100000000000000FF"},
      {1, 0x100, k16MB, "000000010000000100000000"},
      {0x2A, 0x1234FE, k16MB, "0000002A00001234000000FE"},
      {0xFFFFFFFF, 0xFFFFFFFFFFULL, k16MB, "FFFFFFFFFFFFFFFF000000FF"},
      {1, 63, k64MB, "00000001000000000000003F"},
      {1, 64, k64MB, "000000010000000100000000"},
      {3, 130, k64MB, "000000030000000200000002"},
      {1, 4, k1GB, "000000010000000100000000"},
  };
  for (const auto& c : cases) {
    INFO(c.name << " (segment size " << c.seg_size << ")");
    CHECK(make_segment_name(c.tli, c.segno, c.seg_size) == c.name);
    CHECK(is_segment_name(c.name));
    auto parsed = parse_wal_file_name(c.name, c.seg_size);
    REQUIRE(parsed.has_value());
    CHECK(parsed->kind == WalFileKind::segment);
    CHECK(parsed->tli == c.tli);
    CHECK(parsed->segno == c.segno);

    auto partial = parse_wal_file_name(std::string(c.name) + ".partial", c.seg_size);
    REQUIRE(partial.has_value());
    CHECK(partial->kind == WalFileKind::partial);
    CHECK(partial->tli == c.tli);
    CHECK(partial->segno == c.segno);
  }
  CHECK(wal_hash_dir("0000002A00001234000000FE") == "0000002A00001234");
}

TEST_CASE("history file names round trip", "[pg]") {
  for (TimeLineId tli : {1u, 2u, 0x2Au, 0xFFFFFFFFu}) {
    std::string name = make_history_name(tli);
    INFO(name);
    CHECK(name.size() == 16);
    auto parsed = parse_wal_file_name(name, k16MB);
    REQUIRE(parsed.has_value());
    CHECK(parsed->kind == WalFileKind::history);
    CHECK(parsed->tli == tli);
  }
  CHECK(make_history_name(0x2A) == "0000002A.history");
}

TEST_CASE("backup label file names carry the start offset", "[pg]") {
  auto parsed = parse_wal_file_name("000000010000000000000002.00000028.backup", k16MB);
  REQUIRE(parsed.has_value());
  CHECK(parsed->kind == WalFileKind::backup_label);
  CHECK(parsed->tli == 1);
  CHECK(parsed->segno == 2);
  CHECK(parsed->offset == 0x28);

  auto high = parse_wal_file_name("0000000300000001000000FF.00FFFFF8.backup", k16MB);
  REQUIRE(high.has_value());
  CHECK(high->segno == 0x1FF);
  CHECK(high->offset == 0xFFFFF8);
}

TEST_CASE("near misses of WAL file names are rejected", "[pg]") {
  const std::vector<std::string> rejected = {
      "",
      "00000001000000000000000",                    // 23 characters
      "0000000100000000000000001",                  // 25 characters
      "00000001000000000000000a",                   // lowercase hex
      "0000000a0000000000000001",                   // lowercase timeline
      "00000001000000000000000G",                   // not hex
      "000000000000000000000001",                   // timeline 0
      "000000010000000000000100",                   // seg 0x100 >= 256 segments per id (16 MB)
      "0000000100000000FFFFFFFF",                   // seg far past the end
      "000000010000000000000001.partial.partial",   // doubled suffix
      "000000010000000000000001.PARTIAL",           // wrong case
      "000000010000000000000001.part",              // truncated suffix
      "000000010000000000000001.tmp",               // other suffix
      "000000010000000000000001.gz",                // compressed archive name is not a WAL name
      " 000000010000000000000001",                  // leading space
      "../00000001000000000000001",                 // path
      "0000000a.history",                           // lowercase history
      "00000000.history",                           // timeline 0 history
      "0000001.history",                            // 7 hex digits
      "000000001.history",                          // 9 hex digits
      "00000001.HISTORY",                           // wrong case
      "00000001.history.tmp",                       // suffix after history
      "000000010000000000000002.0000028.backup",    // 7-digit offset
      "000000010000000000000002.000000028.backup",  // 9-digit offset
      "000000010000000000000002.0000002a.backup",   // lowercase offset
      "000000010000000000000002.00000028.BACKUP",   // wrong case
      "000000010000000000000002.00000028",          // no .backup
      "000000010000000000000002.backup",            // no offset
  };
  for (const auto& name : rejected) {
    INFO("\"" << name << "\"");
    CHECK_FALSE(parse_wal_file_name(name, k16MB).has_value());
  }
  for (const char* name : {"00000001000000000000000", "0000000100000000000000001", "00000001000000000000000a",
                           "000000010000000000000001.partial", "00000001.history"}) {
    INFO(name);
    CHECK_FALSE(is_segment_name(name));
  }
}

TEST_CASE("a segment valid for 16 MB can be out of range for 64 MB", "[pg]") {
  // 64 MB segments: 64 per log id, so seg 0x3F is the last and 0x40 is invalid.
  CHECK(parse_wal_file_name("00000001000000000000003F", k64MB).has_value());
  CHECK_FALSE(parse_wal_file_name("000000010000000000000040", k64MB).has_value());
  CHECK_FALSE(parse_wal_file_name("0000000100000000000000FF", k64MB).has_value());
  CHECK_FALSE(parse_wal_file_name("0000000100000000000000FF.partial", k64MB).has_value());
  CHECK(parse_wal_file_name("0000000100000000000000FF", k16MB).has_value());
  // 1 GB segments: 4 per log id.
  CHECK(parse_wal_file_name("000000010000000000000003", k1GB).has_value());
  CHECK_FALSE(parse_wal_file_name("000000010000000000000004", k1GB).has_value());
}
