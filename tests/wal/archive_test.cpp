// wal/archive: archive-wal on synthetic WAL files, called in-process: where
// files land, what xlog.db says, idempotence, duplicates, errors/, and the
// states a crash can leave behind (temp files, renamed but not catalogued,
// torn xlog.db tail).
#include "wal/archive.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "common/fs.h"
#include "locks/lock_backend.h"
#include "support/run.h"
#include "wal/wal_store.h"
#include "wal/xlogdb.h"
#include "wal_fixture.h"

using namespace cellar;
using namespace cellar::wal;
using namespace cellar::test;
using cellar::codec::Codec;

namespace {

constexpr uint64_t kSeg = pg::kDefaultSegmentSize;

struct Fixture {
  TempDir dir;
  ArchiveOptions options;
  explicit Fixture(Codec c = Codec::zstd) {
    options.server = "main";
    options.server_dir = dir / "main";
    options.locks = &locks::file_lock_manager(dir.path());
    options.compression = c;
  }
  std::string streaming() const { return options.server_dir + "/streaming"; }
  std::string incoming() const { return options.server_dir + "/incoming"; }
  std::string wals() const { return options.server_dir + "/wals"; }
  std::string errors() const { return options.server_dir + "/errors"; }
  ArchiveReport archive() {
    auto r = archive_wal(options);
    INFO(r.status().to_string());
    REQUIRE(r);
    return *r;
  }
  std::vector<XlogEntry> catalogue() const {
    auto db = load_xlogdb(xlogdb_path(options.server_dir));
    REQUIRE(db);
    CHECK(db->torn_tail.empty());
    return db->entries;
  }
  std::vector<std::string> names_in(const std::string& d) const {
    auto names = list_dir(d);
    return names ? *names : std::vector<std::string>{};
  }
};

// Makes `path` look older than archive-wal's grace period for short segments.
void age(const std::string& path) {
  struct timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

}  // namespace

TEST_CASE("archive-wal moves segments, history and backup labels into wals/, compressed and catalogued in WAL order",
          "[wal]") {
  for (Codec c : {Codec::none, Codec::gzip, Codec::lz4, Codec::zstd}) {
    INFO(codec::codec_name(c));
    Fixture f(c);
    const std::string s1 = segment(1), s2 = segment(2), s3 = segment(0x1FF);
    const std::string label = s2 + ".00000028.backup", history = "00000002.history";
    put_file(f.streaming(), s2, wal_bytes(s2, 2));
    put_file(f.streaming(), s1, wal_bytes(s1, 1));
    put_file(f.incoming(), s3, wal_bytes(s3, 3));
    const std::string label_text = "START WAL LOCATION: 0/2000028\n";
    const std::string history_text = "1\t0/3000000\tno recovery target specified\n";
    put_file(f.incoming(), label, label_text);
    put_file(f.streaming(), history, history_text);
    put_file(f.streaming(), segment(0x200) + ".partial", random_bytes(kSeg, 4));

    ArchiveReport r = f.archive();
    CHECK(r.archived == 5);
    CHECK(r.bytes == 3 * kSeg + label_text.size() + history_text.size());
    CHECK(r.moved_to_errors.empty());
    const std::string sfx = codec::codec_suffix(c);
    CHECK(unpack(f.wals() + "/0000000100000000/" + s1 + sfx) == wal_bytes(s1, 1));
    CHECK(unpack(f.wals() + "/0000000100000001/" + s3 + sfx) == wal_bytes(s3, 3));
    CHECK(unpack(f.wals() + "/0000000100000000/" + label + sfx) == label_text);
    CHECK(unpack(f.wals() + "/" + history + sfx) == history_text);
    CHECK(f.names_in(f.streaming()) == std::vector<std::string>{segment(0x200) + ".partial"});
    CHECK(f.names_in(f.incoming()).empty());

    auto entries = f.catalogue();
    REQUIRE(entries.size() == 5);
    std::vector<std::string> order;
    for (const auto& e : entries) order.push_back(e.name);
    // Name order is WAL order: 00000002.history sorts before timeline 2's segments.
    CHECK(order == std::vector<std::string>{s1, s2, label, s3, history});
    for (const auto& e : entries) {
      CHECK(e.compression == c);
      auto stored = find_archived(f.wals(), e.name);
      REQUIRE(stored);
      struct stat sb {};
      REQUIRE(::stat(stored->path.c_str(), &sb) == 0);
      CHECK(e.size == static_cast<uint64_t>(sb.st_size));
      CHECK((sb.st_mode & 0777) == 0600);
    }
    CHECK(summary_line(r, "main") == "archived 5 WAL files (48.0 MiB) for server 'main'");
  }
}

TEST_CASE("a second archive-wal run with nothing new changes nothing", "[wal]") {
  Fixture f;
  put_file(f.streaming(), segment(7), wal_bytes(segment(7), 7));
  f.archive();
  auto before = f.catalogue();
  ArchiveReport again = f.archive();
  CHECK(again.archived == 0);
  CHECK(again.duplicates_dropped == 0);
  CHECK(f.catalogue() == before);
  CHECK(f.names_in(f.wals() + "/0000000100000000") == std::vector<std::string>{segment(7) + ".zst"});
}

TEST_CASE("a segment archived again with the same content is dropped, without a second catalogue line", "[wal]") {
  Fixture f;
  put_file(f.streaming(), segment(7), wal_bytes(segment(7), 7));
  f.archive();
  put_file(f.incoming(), segment(7), wal_bytes(segment(7), 7));  // archive_command pushed it too
  put_file(f.streaming(), segment(7), wal_bytes(segment(7), 7));
  ArchiveReport r = f.archive();
  CHECK(r.archived == 0);
  CHECK(r.duplicates_dropped == 2);
  CHECK(f.catalogue().size() == 1);
  CHECK(f.names_in(f.incoming()).empty());
  CHECK(f.names_in(f.streaming()).empty());
  CHECK_FALSE(path_exists(f.errors()));
}

TEST_CASE("a segment whose name is archived with different content goes to errors/ and the archive is kept", "[wal]") {
  Fixture f;
  put_file(f.streaming(), segment(7), wal_bytes(segment(7), 7));
  f.archive();
  put_file(f.incoming(), segment(7), wal_bytes(segment(7), 99));
  ArchiveReport r = f.archive();
  REQUIRE(r.moved_to_errors.size() == 1);
  const std::string moved = r.moved_to_errors[0];
  CHECK(dirname_of(moved) == f.errors());
  CHECK(moved.rfind(f.errors() + "/" + segment(7) + ".", 0) == 0);
  CHECK(moved.substr(moved.size() - 10) == ".duplicate");
  CHECK(read_text(moved) == wal_bytes(segment(7), 99));
  CHECK(unpack(f.wals() + "/0000000100000000/" + segment(7) + ".zst") == wal_bytes(segment(7), 7));
  CHECK(f.catalogue().size() == 1);
  CHECK(summary_line(r, "main").find("moved 1 to errors/") != std::string::npos);
}

TEST_CASE("garbage names and old segments of the wrong size go to errors/; a fresh short one waits", "[wal]") {
  Fixture f;
  put_file(f.incoming(), "core.1234", "junk");
  put_file(f.incoming(), "000000010000000000000001.gz", "junk");
  put_file(f.incoming(), "00000000000000000000000A", random_bytes(kSeg, 1));  // timeline 0
  put_file(f.incoming(), segment(2), random_bytes(1000, 2));
  age(f.incoming() + "/" + segment(2));
  put_file(f.streaming(), segment(3), random_bytes(kSeg / 2, 3));  // still being copied
  put_file(f.streaming(), segment(4) + ".tmp", "being written");
  ArchiveReport r = f.archive();
  CHECK(r.archived == 0);
  CHECK(r.moved_to_errors.size() == 4);
  for (const auto& name : f.names_in(f.errors())) CHECK(name.substr(name.size() - 8) == ".unknown");
  CHECK(f.names_in(f.incoming()).empty());
  CHECK(f.names_in(f.streaming()) == std::vector<std::string>{segment(3), segment(4) + ".tmp"});
  CHECK(f.catalogue().empty());
}

TEST_CASE("a file renamed into wals/ but missing from xlog.db (crash before the append) is catalogued, then dropped",
          "[wal]") {
  Fixture f;
  put_file(f.streaming(), segment(5), wal_bytes(segment(5), 5));
  REQUIRE(make_dirs(f.wals() + "/0000000100000000"));
  auto packed = codec::compress_buffer(test::read_text(f.streaming() + "/" + segment(5)), Codec::gzip);
  REQUIRE(packed);
  test::write_text(f.wals() + "/0000000100000000/" + segment(5) + ".gz", *packed);
  ArchiveReport r = f.archive();
  CHECK(r.catalogued == 1);
  CHECK(r.archived == 0);
  auto entries = f.catalogue();
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].compression == Codec::gzip);  // the stored file's codec, not the configured one
  CHECK(f.names_in(f.streaming()).empty());
}

TEST_CASE("a torn xlog.db line from a crash mid-append is replaced by one whole line", "[wal]") {
  Fixture f;
  put_file(f.streaming(), segment(5), wal_bytes(segment(5), 5));
  put_file(f.streaming(), segment(6), wal_bytes(segment(6), 6));
  f.archive();
  const std::string db = xlogdb_path(f.options.server_dir);
  std::string text = read_text(db);
  write_text(db, text.substr(0, text.size() - 9));                // the second line torn
  put_file(f.streaming(), segment(6), wal_bytes(segment(6), 6));  // its source not yet unlinked
  ArchiveReport r = f.archive();
  CHECK(r.catalogued == 1);
  auto entries = f.catalogue();
  REQUIRE(entries.size() == 2);
  CHECK(entries[1].name == segment(6));
}

TEST_CASE("stale temp files from a crash while compressing are removed and the segment archived", "[wal]") {
  Fixture f;
  put_file(f.streaming(), segment(8), wal_bytes(segment(8), 8));
  put_file(f.wals() + "/0000000100000000", segment(8) + ".zst.cellar-tmp.4711.0", "half a file");
  put_file(f.wals() + "/0000000100000000", segment(8) + ".lz4.cellar-tmp.4712.3", "half a file, other codec");
  ArchiveReport r = f.archive();
  CHECK(r.archived == 1);
  CHECK(f.names_in(f.wals() + "/0000000100000000") == std::vector<std::string>{segment(8) + ".zst"});
}

TEST_CASE("archive-wal is busy while another process holds the archive-wal lock", "[wal]") {
  Fixture f;
  put_file(f.streaming(), segment(1), wal_bytes(segment(1), 1));
  auto held = locks::ArchiveWalLock::acquire(*f.options.locks, "main");
  REQUIRE(held);
  auto r = archive_wal(f.options);
  REQUIRE_FALSE(r);
  CHECK(r.status().code() == ErrorCode::busy);
  CHECK(r.status().message().find("another archive-wal is running for server 'main'") != std::string::npos);
  CHECK(f.names_in(f.streaming()) == std::vector<std::string>{segment(1)});
}

TEST_CASE("a corrupt archived copy stops archive-wal and leaves the source in place", "[wal]") {
  Fixture f;
  put_file(f.streaming(), segment(9), wal_bytes(segment(9), 9));
  put_file(f.wals() + "/0000000100000000", segment(9) + ".zst", "not zstd at all");
  auto r = archive_wal(f.options);
  REQUIRE_FALSE(r);
  CHECK(r.status().message().find(segment(9) + ".zst") != std::string::npos);
  CHECK(f.names_in(f.streaming()) == std::vector<std::string>{segment(9)});
  CHECK_FALSE(path_exists(f.errors()));
}

TEST_CASE("sizes for humans use binary units", "[wal]") {
  CHECK(human_size(0) == "0 B");
  CHECK(human_size(1023) == "1023 B");
  CHECK(human_size(16 * 1024 * 1024) == "16.0 MiB");
  CHECK(human_size(3ull << 30) == "3.0 GiB");
}

TEST_CASE("a segment of another cluster, zero-filled, or another segment's goes to errors/ and is never archived",
          "[wal]") {
  Fixture f;
  f.options.system_id = kTestSystemId;
  put_file(f.incoming(), segment(1), wal_bytes(segment(1), 1, kSeg, 7300000000000000042ULL));  // another cluster
  put_file(f.incoming(), segment(2), std::string(kSeg, '\0'));                                 // zero-filled
  put_file(f.incoming(), segment(3), wal_bytes(segment(4), 3));                                // renamed
  put_file(f.incoming(), segment(5), wal_bytes(segment(5), 5));
  // The first segment of timeline 2 begins as a copy of timeline 1's.
  put_file(f.incoming(), segment(6, kSeg, 2), wal_bytes(segment(6, kSeg, 1), 6));

  ArchiveReport r = f.archive();
  CHECK(r.archived == 2);
  REQUIRE(r.moved_to_errors.size() == 3);
  auto errors = f.names_in(f.errors());
  auto moved = [&](const std::string& name, const std::string& reason) {
    return std::any_of(errors.begin(), errors.end(), [&](const std::string& e) {
      return e.rfind(name + ".", 0) == 0 && e.size() > reason.size() &&
             e.compare(e.size() - reason.size(), reason.size(), reason) == 0;
    });
  };
  CHECK(moved(segment(1), ".foreign"));
  CHECK(moved(segment(2), ".unknown"));
  CHECK(moved(segment(3), ".unknown"));
  std::vector<std::string> names;
  for (const auto& e : f.catalogue()) names.push_back(e.name);
  CHECK(names == std::vector<std::string>{segment(5), segment(6, kSeg, 2)});
}
