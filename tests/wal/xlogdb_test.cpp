// wal/xlogdb: the catalogue format, its Barman-compatible reader, appends
// under the xlogdb lock, and the torn last line a crashed writer leaves.
#include "wal/xlogdb.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "common/fs.h"
#include "locks/lock_backend.h"
#include "support/run.h"

using namespace cellar;
using namespace cellar::wal;
using cellar::codec::Codec;

namespace {

XlogEntry entry(const std::string& name, uint64_t size, Codec c = Codec::zstd) {
  return XlogEntry{name, size, 1700000000.25, c, {}};
}

locks::XlogdbLock lock_in(const test::TempDir& dir) {
  auto lock = locks::XlogdbLock::acquire(locks::file_lock_manager(dir.path()), "main");
  REQUIRE(lock);
  return std::move(*lock);
}

}  // namespace

TEST_CASE("xlog.db lines round-trip through format and parse", "[wal]") {
  for (Codec c : {Codec::none, Codec::gzip, Codec::lz4, Codec::zstd}) {
    XlogEntry e = entry("000000010000000000000003", 16777216, c);
    std::string line = format_xlog_entry(e);
    CHECK(line.back() == '\n');
    CHECK(std::count(line.begin(), line.end(), '\t') == 3);
    CHECK(parse_xlog_entry(line.substr(0, line.size() - 1)) == e);
  }
  CHECK(format_xlog_entry(entry("00000002.history", 42, Codec::none)) ==
        "00000002.history\t42\t1700000000.250000\tnone\n");
}

TEST_CASE("xlog.db reader accepts Barman's lines and rejects near misses", "[wal]") {
  auto barman5 = parse_xlog_entry("00000001000000000000000A\t16777216\t1795342090.4362593\tNone\tNone");
  REQUIRE(barman5);
  CHECK(barman5->compression == Codec::none);
  CHECK(barman5->size == 16777216);
  auto barman4 = parse_xlog_entry("000000010000000000000003\t16777216\t1795341837.0922477\tgzip");
  REQUIRE(barman4);
  CHECK(barman4->compression == Codec::gzip);
  CHECK(parse_xlog_entry("000000010000000000000003 100 1795341837"));  // 3 fields, spaces

  for (const char* bad : {"", "000000010000000000000003", "000000010000000000000003\t100",
                          "000000010000000000000003\t-1\t1.0\tnone", "000000010000000000000003\t1x\t1.0\tnone",
                          "000000010000000000000003\t100\tyesterday\tnone", "000000010000000000000003\t100\t1.0\tbzip2",
                          "a/b\t100\t1.0\tnone", "000000010000000000000003\t100\t1.0\tnone\tNone\textra"})
    CHECK_FALSE(parse_xlog_entry(bad));
}

TEST_CASE("a missing xlog.db is an empty catalogue", "[wal]") {
  test::TempDir dir;
  auto db = load_xlogdb(dir / "xlog.db");
  REQUIRE(db);
  CHECK(db->entries.empty());
  CHECK(db->last() == nullptr);
}

TEST_CASE("appends under the xlogdb lock are read back in order from a 0600 file", "[wal]") {
  test::TempDir dir;
  auto lock = lock_in(dir);
  const std::string path = dir / "xlog.db";
  REQUIRE(append_xlogdb(lock, path, {entry("000000010000000000000001", 100)}));
  REQUIRE(append_xlogdb(lock, path, {entry("000000010000000000000002", 200), entry("00000002.history", 30)}));
  struct stat sb {};
  REQUIRE(::stat(path.c_str(), &sb) == 0);
  CHECK((sb.st_mode & 0777) == 0600);
  auto db = load_xlogdb(path);
  REQUIRE(db);
  REQUIRE(db->entries.size() == 3);
  CHECK(db->entries[1] == entry("000000010000000000000002", 200));
  CHECK(db->torn_tail.empty());
}

TEST_CASE("a torn last line is ignored and reported by load, and cut off by the next append", "[wal]") {
  test::TempDir dir;
  const std::string path = dir / "xlog.db";
  test::write_text(path, format_xlog_entry(entry("000000010000000000000001", 100)) +
                             format_xlog_entry(entry("000000010000000000000002", 100)) + "0000000100000000000000");
  auto db = load_xlogdb(path);
  REQUIRE(db);
  CHECK(db->entries.size() == 2);
  CHECK(db->torn_tail == "0000000100000000000000");

  auto lock = lock_in(dir);
  REQUIRE(append_xlogdb(lock, path, {entry("000000010000000000000003", 100)}));
  auto after = load_xlogdb(path);
  REQUIRE(after);
  REQUIRE(after->entries.size() == 3);
  CHECK(after->entries[2].name == "000000010000000000000003");
  CHECK(after->torn_tail.empty());

  test::write_text(path, "00000001000");  // a torn first (and only) line
  REQUIRE(append_xlogdb(lock, path, {entry("000000010000000000000004", 1)}));
  CHECK(test::read_text(path) == format_xlog_entry(entry("000000010000000000000004", 1)));
}

TEST_CASE("saving the catalogue replaces it whole, e.g. after retention", "[wal]") {
  test::TempDir dir;
  auto lock = lock_in(dir);
  const std::string path = dir / "xlog.db";
  REQUIRE(append_xlogdb(lock, path, {entry("000000010000000000000001", 1), entry("000000010000000000000002", 2)}));
  REQUIRE(save_xlogdb(lock, path, {entry("000000010000000000000002", 2)}));
  auto db = load_xlogdb(path);
  REQUIRE(db);
  REQUIRE(db->entries.size() == 1);
  CHECK(db->entries[0].name == "000000010000000000000002");
}

TEST_CASE("a malformed complete line fails load with the path and line number", "[wal]") {
  test::TempDir dir;
  const std::string path = dir / "xlog.db";
  test::write_text(path, format_xlog_entry(entry("000000010000000000000001", 100)) + "garbage here\n");
  auto db = load_xlogdb(path);
  REQUIRE_FALSE(db);
  CHECK(db.status().message().find("line 2") != std::string::npos);
  CHECK(db.status().message().find("\"" + path + "\"") != std::string::npos);
}

TEST_CASE("catalogue queries find a name, list from a name and give the last entry", "[wal]") {
  XlogDb db;
  for (const char* n :
       {"000000010000000000000001", "000000010000000000000002", "00000002.history", "000000020000000000000003"})
    db.entries.push_back(entry(n, 1));
  CHECK(db.contains("000000010000000000000002"));
  CHECK_FALSE(db.contains("000000010000000000000009"));
  CHECK(db.find("00000002.history")->size == 1);
  auto tail = db.from("000000010000000000000002");
  REQUIRE(tail.size() == 3);
  CHECK(tail.front().name == "000000010000000000000002");
  CHECK(db.last()->name == "000000020000000000000003");
}
