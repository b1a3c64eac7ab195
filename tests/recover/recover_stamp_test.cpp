// The restore stamp and the delta restore's block filter without PostgreSQL:
// the stamp's text and its refusals, which files it trusts (a changed
// mtime, size or inode is not), the entries write_stamp leaves out (changed
// since the copy, or stamped in the same clock tick as the stamp), take_stamp
// removing what it read, and which blocks the WAL's change map says may
// differ between two backups.
#include "recover/recover_stamp.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <ctime>

#include "common/fs.h"
#include "incr/change_map.h"
#include "incr/incremental_file.h"
#include "recover/recover_delta.h"
#include "support/run.h"

using namespace cellar;
using namespace cellar::recover;
using namespace cellar::test;

namespace {

// Sets `path`'s mtime to `seconds` since the epoch (and its atime too).
void set_mtime(const std::string& path, time_t seconds) {
  struct timespec times[2] = {{seconds, 0}, {seconds, 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

RestoreStamp header() {
  RestoreStamp s;
  s.backup_id = "20261201T101010";
  s.systemid = "7301234567890123456";
  s.timeline = 2;
  s.start_lsn = 0x3000028;
  s.stop_lsn = 0x4000100;
  return s;
}

StampedFile stamped(const std::string& path, const std::string& crc = "0a1b2c3d") {
  auto st = stat_file(path);
  REQUIRE(st);
  return {path, *st, crc};
}

}  // namespace

TEST_CASE("a restore stamp's text reads back as written and anything malformed is refused", "[recover][delta]") {
  RestoreStamp s = header();
  s.files["/data/base/5/16400"] = {"/data/base/5/16400", {2049, 131, 8192 * 3, 1764583810123456789}, "deadbeef"};
  s.files["/data/a file with spaces"] = {"/data/a file with spaces", {2049, 132, 7, 1}, "00000000"};
  auto back = parse_stamp(format_stamp(s));
  REQUIRE(back);
  CHECK(back->backup_id == s.backup_id);
  CHECK(back->systemid == s.systemid);
  CHECK(back->timeline == 2);
  CHECK(back->start_lsn == s.start_lsn);
  CHECK(back->stop_lsn == s.stop_lsn);
  REQUIRE(back->files.size() == 2);
  for (const auto& [path, f] : s.files) {
    REQUIRE(back->files.count(path));
    CHECK(back->files.at(path).stat == f.stat);
    CHECK(back->files.at(path).crc32c == f.crc32c);
  }
  std::string good = format_stamp(s);
  for (const std::string& bad : {
           std::string("cellar restore stamp 2\n") + good.substr(good.find('\n') + 1),  // another version
           good.substr(0, good.find("systemid")) + good.substr(good.find("timeline")),  // a key missing
           good + "file 1 2 3 4 deadbeef relative/path\n",                              // not absolute
           good + "file 1 2 3 4 dead /data/x\n",                                        // short CRC
           good + "file 1 2 x 4 deadbeef /data/x\n",                                    // no number
           good + "colour blue\n",                                                      // unknown key
       }) {
    INFO(bad);
    CHECK_FALSE(parse_stamp(bad));
  }
}

TEST_CASE("a stamp trusts a file only while its device, inode, size and mtime are the ones stamped",
          "[recover][delta]") {
  TempDir tmp;
  std::string path = tmp / "f";
  write_text(path, std::string(100, 'a'));
  set_mtime(path, 1700000000);
  RestoreStamp s = header();
  s.files[path] = stamped(path);
  CHECK(s.trusted(path) == &s.files[path]);
  CHECK(s.trusted(tmp / "not stamped") == nullptr);

  SECTION("a write changes the mtime") {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    REQUIRE(::pwrite(fd.get(), "b", 1, 10) == 1);
    CHECK(s.trusted(path) == nullptr);
  }
  SECTION("a change of size with the mtime put back") {
    REQUIRE(::truncate(path.c_str(), 50) == 0);
    set_mtime(path, 1700000000);
    CHECK(s.trusted(path) == nullptr);
  }
  SECTION("a replacement of the same size and mtime is another inode") {
    write_text(tmp / "g", std::string(100, 'c'));
    set_mtime(tmp / "g", 1700000000);
    REQUIRE(::rename((tmp / "g").c_str(), path.c_str()) == 0);
    CHECK(s.trusted(path) == nullptr);
  }
  SECTION("a removed file") {
    REQUIRE(::unlink(path.c_str()) == 0);
    CHECK(s.trusted(path) == nullptr);
  }
}

TEST_CASE("write_stamp leaves out files changed since the copy or stamped no earlier than now; take_stamp removes it",
          "[recover][delta]") {
  TempDir tmp;
  std::vector<StampedFile> written;
  for (const char* name : {"old", "changed", "future"}) {
    write_text(tmp / name, name);
    set_mtime(tmp / name, 1700000000);
    written.push_back(stamped(tmp / name));
  }
  write_text(tmp / "changed", "changed again");  // after the copy recorded it
  // A write in the clock tick of the stamp would leave the mtime as it is:
  // an mtime not before now cannot be trusted.
  set_mtime(tmp / "future", std::time(nullptr) + 3600);
  written[2] = stamped(tmp / "future");
  REQUIRE(write_stamp(tmp.path(), header(), written));

  auto taken = take_stamp(tmp.path());
  REQUIRE(taken);
  REQUIRE(*taken);
  CHECK((*taken)->backup_id == header().backup_id);
  CHECK((*taken)->files.size() == 1);
  CHECK((*taken)->files.count(tmp / "old") == 1);
  CHECK((*taken)->trusted(tmp / "old") != nullptr);
  CHECK_FALSE(path_exists(tmp / kStampFile));  // gone before DEST changes

  auto none = take_stamp(tmp.path());
  REQUIRE(none);
  CHECK_FALSE(*none);
  write_text(tmp / kStampFile, "cellar restore stamp 1\nbackup x\n");
  auto damaged = take_stamp(tmp.path());
  REQUIRE(damaged);
  CHECK_FALSE(*damaged);  // ignored: a stamp only saves reads
  CHECK_FALSE(path_exists(tmp / kStampFile));
}

TEST_CASE("the change map between two backups names the blocks of a relation file that may differ",
          "[recover][delta]") {
  const uint32_t seg = incr::kSegmentBlocks;
  incr::ChangeMap map;
  incr::RelFork rel{1663, 5, 16400, 0};
  map.blocks[rel] = {3, seg + 2};
  const uint64_t ten_blocks = 10 * incr::kBlockSize;

  auto first = blocks_that_may_differ("base/5/16400", ten_blocks, map);
  REQUIRE(first);
  CHECK((*first)(3));
  CHECK_FALSE((*first)(2));
  CHECK_FALSE((*first)(4));
  CHECK((*first)(10));  // past DEST's copy: compared
  auto second = blocks_that_may_differ("base/5/16400.1", ten_blocks, map);
  REQUIRE(second);
  CHECK((*second)(2));
  CHECK_FALSE((*second)(3));
  auto partial = blocks_that_may_differ("base/5/16400", ten_blocks - 100, map);
  REQUIRE(partial);
  CHECK((*partial)(9));  // a partial last block is compared
  auto untouched = blocks_that_may_differ("base/5/16401", ten_blocks, map);
  REQUIRE(untouched);
  CHECK_FALSE((*untouched)(0));

  CHECK_FALSE(blocks_that_may_differ("base/5/16400_fsm", ten_blocks, map));  // only main forks
  CHECK_FALSE(blocks_that_may_differ("global/pg_control", ten_blocks, map));
  SECTION("a cut or created relation is compared whole from its limit on") {
    map.limit(rel, 5);
    auto cut = blocks_that_may_differ("base/5/16400", ten_blocks, map);
    REQUIRE(cut);
    CHECK((*cut)(5));
    CHECK((*cut)(3));
    CHECK_FALSE((*cut)(4));
    CHECK_FALSE(blocks_that_may_differ("base/5/16400.1", ten_blocks, map));  // after the limit
  }
  SECTION("a database copied or dropped is compared whole") {
    map.whole_databases.insert({1663, 5});
    CHECK_FALSE(blocks_that_may_differ("base/5/16401", ten_blocks, map));
    CHECK(blocks_that_may_differ("base/6/16401", ten_blocks, map));
  }
}
