// The INCREMENTAL.<name> format and relation paths (incr/incremental_file.h):
// a header round trip, every way a damaged file is refused, and which
// manifest paths are relation segments of which fork.
#include "incr/incremental_file.h"

#include <catch2/catch.hpp>

using namespace cellar;
using namespace cellar::incr;
using Catch::Matchers::Contains;

namespace {

std::string file_of(const IncrementalHeader& h) {
  std::string out = encode_incremental_header(h);
  for (size_t i = 0; i < h.blocks.size(); ++i) out += std::string(kBlockSize, static_cast<char>('a' + i));
  return out;
}

}  // namespace

TEST_CASE("an incremental file's header round-trips and gives where the blocks start", "[incr]") {
  IncrementalHeader h;
  h.truncate_blocks = 70000;
  h.blocks = {0, 5, 69999};
  std::string bytes = file_of(h);
  CHECK(bytes.substr(0, 4) == "CEI1");
  CHECK(bytes.size() == h.file_size());
  auto back = parse_incremental(bytes, "x");
  REQUIRE(back);
  CHECK(back->truncate_blocks == 70000);
  CHECK(back->blocks == h.blocks);
  CHECK(bytes[back->data_offset()] == 'a');
  CHECK(bytes[back->data_offset() + 2 * kBlockSize] == 'c');
  IncrementalHeader empty;  // an unchanged segment: its length only
  empty.truncate_blocks = 3;
  auto none = parse_incremental(file_of(empty), "x");
  REQUIRE(none);
  CHECK(none->blocks.empty());
  CHECK(none->truncate_blocks == 3);
}

TEST_CASE("a damaged incremental file is refused naming it and what is wrong", "[incr]") {
  IncrementalHeader h;
  h.truncate_blocks = 10;
  h.blocks = {1, 2};
  const std::string good = file_of(h);
  struct Case {
    std::string bytes, says;
  };
  std::string bad_magic = good, bad_size = good, unordered = good, past = good;
  bad_magic[0] = 'X';
  bad_size[5] = 0x10;  // block size 4096
  unordered[16] = 2;   // blocks 2, 2
  past[20] = 10;       // block 10 of a 10-block file
  std::vector<Case> cases = {
      {"", "no CEI1 header"},
      {bad_magic, "no CEI1 header"},
      {bad_size, "block size"},
      {unordered, "out of order"},
      {past, "past the length"},
      {good.substr(0, good.size() - 1), "expected " + std::to_string(good.size())},
      {good + "x", "expected " + std::to_string(good.size())},
      {good.substr(0, 18), "truncated block list"},
  };
  for (const auto& c : cases) {
    INFO(c.says);
    auto r = parse_incremental(c.bytes, "\"base/5/INCREMENTAL.16384\"");
    REQUIRE_FALSE(r);
    CHECK_THAT(r.status().message(), Contains("\"base/5/INCREMENTAL.16384\" is damaged") && Contains(c.says));
  }
}

TEST_CASE("relation segments are told apart from other files, with their fork and segment", "[incr]") {
  auto rs = parse_relation_path("base/5/16384");
  REQUIRE(rs);
  CHECK(rs->fork == RelFork{kDefaultTablespace, 5, 16384, 0});
  CHECK(rs->segno == 0);
  rs = parse_relation_path("base/5/16384_vm.2");
  REQUIRE(rs);
  CHECK(rs->fork == RelFork{kDefaultTablespace, 5, 16384, 2});
  CHECK(rs->segno == 2);
  rs = parse_relation_path("global/1262_fsm");
  REQUIRE(rs);
  CHECK(rs->fork == RelFork{kGlobalTablespace, 0, 1262, 1});
  rs = parse_relation_path("pg_tblspc/16390/PG_15_202209061/16391/16400_init");
  REQUIRE(rs);
  CHECK(rs->fork == RelFork{16390, 16391, 16400, 3});
  for (const char* other : {"global/pg_control", "base/5/PG_VERSION", "base/5/pg_filenode.map", "base/5/t3_16384",
                            "base/5/16384_main", "base/5/16384.x", "base/5/016384", "pg_xact/0000", "PG_VERSION",
                            "pg_tblspc/16390/other/16391/16400", "base/5/pgsql_tmp/1"})
    CHECK_FALSE(parse_relation_path(other));
  CHECK(incremental_path("base/5/16384.1") == "base/5/INCREMENTAL.16384.1");
  CHECK(whole_path_of("base/5/INCREMENTAL.16384.1") == std::optional<std::string>("base/5/16384.1"));
  CHECK_FALSE(whole_path_of("base/5/16384"));
}
