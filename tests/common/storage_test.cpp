// The storage layer (common/storage.h) through its posix driver, and the codec
// filters on top (common/storage_filter.h): streaming writes visible only at
// commit, nothing under the final name after an abandon (explicit, by
// destruction, by an exception, by a failed commit), ranged reads, listings,
// info, removal, links, and compressed round trips.
#include "common/storage.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/storage_filter.h"
#include "common/storage_posix.h"
#include "support/run.h"

using namespace cellar;
using Catch::Matchers::Contains;
using cellar::test::TempDir;

namespace {

std::vector<std::string> names_in(storage::Storage& s, const std::string& dir) {
  auto entries = s.list(dir);
  REQUIRE(entries);
  std::vector<std::string> out;
  for (const auto& e : *entries) out.push_back(e.name);
  return out;
}

std::string noise(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

std::unique_ptr<storage::Writer> open_or_fail(storage::Storage& s, const std::string& path,
                                              storage::WriteOptions o = {}) {
  auto w = s.open_write(path, o);
  REQUIRE(w);
  return std::move(*w);
}

}  // namespace

TEST_CASE("a streamed write is invisible under its final name until commit", "[common][storage]") {
  TempDir dir;
  auto repo = storage::make_posix(dir.path());
  auto w = open_or_fail(*repo, "file");
  const std::string data = noise(3 << 20, 1);
  for (size_t at = 0; at < data.size(); at += 100000) REQUIRE(w->write(std::string_view(data).substr(at, 100000)));
  CHECK(w->written() == data.size());
  CHECK_FALSE(path_exists(dir / "file"));
  REQUIRE(names_in(*repo, "").size() == 1);
  CHECK(storage::is_temp_name(names_in(*repo, "")[0]));
  REQUIRE(w->commit());
  CHECK(test::read_text(dir / "file") == data);
  CHECK(names_in(*repo, "") == std::vector<std::string>{"file"});
  CHECK_FALSE(w->commit());  // spent
}

TEST_CASE("an abandoned write leaves nothing, also when an exception or early return unwinds it", "[common][storage]") {
  TempDir dir;
  auto repo = storage::make_posix(dir.path());
  SECTION("explicit abandon") {
    auto w = open_or_fail(*repo, "a");
    REQUIRE(w->write("half"));
    w->abandon();
    w->abandon();  // idempotent
  }
  SECTION("destroyed without commit") {
    auto w = open_or_fail(*repo, "a");
    REQUIRE(w->write("half"));
  }
  SECTION("an exception unwinds the writer") {
    try {
      auto w = open_or_fail(*repo, "a");
      REQUIRE(w->write("half"));
      throw std::runtime_error("boom");
    } catch (const std::runtime_error&) {
    }
  }
  CHECK(names_in(*repo, "").empty());
}

TEST_CASE("abandoning a rewrite keeps the old file whole", "[common][storage]") {
  TempDir dir;
  auto repo = storage::make_posix(dir.path());
  REQUIRE(storage::write_file(*repo, "backup.info", "status=DONE\n"));
  {
    auto w = open_or_fail(*repo, "backup.info");
    REQUIRE(w->write("status=FAI"));
  }
  CHECK(test::read_text(dir / "backup.info") == "status=DONE\n");
  CHECK(names_in(*repo, "") == std::vector<std::string>{"backup.info"});
}

TEST_CASE("a commit that cannot rename removes its temp and fails with both paths", "[common][storage]") {
  TempDir dir;
  auto repo = storage::make_posix(dir.path());
  REQUIRE(make_dirs(dir / "target/sub"));
  auto w = open_or_fail(*repo, "target");
  REQUIRE(w->write("data"));
  Status st = w->commit();
  REQUIRE_FALSE(st);
  CHECK_THAT(st.message(), Contains("could not rename") && Contains(dir / "target"));
  CHECK(names_in(*repo, "") == std::vector<std::string>{"target"});
}

TEST_CASE("writes fail without parents unless asked to create them", "[common][storage]") {
  TempDir dir;
  auto repo = storage::make_posix(dir.path());
  auto refused = repo->open_write("base/20261201T020000/backup.info");
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.status().message(), Contains("No such file or directory"));
  storage::WriteOptions o;
  o.make_parents = true;
  REQUIRE(storage::write_file(*repo, "base/20261201T020000/backup.info", "x", o));
  CHECK(test::read_text(dir / "base/20261201T020000/backup.info") == "x");
  struct stat sb {};
  REQUIRE(::stat((dir / "base").c_str(), &sb) == 0);
  CHECK((sb.st_mode & 0777) == 0700);
}

TEST_CASE("the file's mode is the one asked for, whatever the umask", "[common][storage]") {
  TempDir dir;
  auto repo = storage::make_posix(dir.path());
  mode_t saved = ::umask(0077);
  Status st = storage::write_file(*repo, "shared", "x", storage::WriteOptions{0644});
  ::umask(saved);
  REQUIRE(st);
  struct stat sb {};
  REQUIRE(::stat((dir / "shared").c_str(), &sb) == 0);
  CHECK((sb.st_mode & 07777) == 0644);
}

TEST_CASE("reads return the whole file or any range of it", "[common][storage]") {
  TempDir dir;
  auto repo = storage::make_posix(dir.path());
  const std::string data = noise(300000, 2);
  REQUIRE(storage::write_file(*repo, "f", data));
  auto whole = storage::read_file(*repo, "f");
  REQUIRE(whole);
  CHECK(*whole == data);
  auto middle = storage::read_file(*repo, "f", 12345, 100000);
  REQUIRE(middle);
  CHECK(*middle == data.substr(12345, 100000));
  auto tail = storage::read_file(*repo, "f", 299990);
  REQUIRE(tail);
  CHECK(*tail == data.substr(299990));
  auto past = storage::read_file(*repo, "f", 400000, 10);
  REQUIRE(past);
  CHECK(past->empty());
  auto missing = storage::read_file(*repo, "nope");
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.status().message(), Contains("could not open \"" + dir / "nope" + "\""));
}

TEST_CASE("list, info, remove and link describe and change the tree", "[common][storage]") {
  TempDir dir;
  auto repo = storage::make_posix(dir.path());
  REQUIRE(repo->make_dir("wals/0000000100000000"));
  REQUIRE(storage::write_file(*repo, "wals/xlog.db", "abc"));
  REQUIRE(storage::write_file(*repo, "wals/0000000100000000/seg", "1234"));
  auto listed = repo->list("wals");
  REQUIRE(listed);
  REQUIRE(listed->size() == 2);
  CHECK((*listed)[0].name == "0000000100000000");
  CHECK((*listed)[0].is_dir);
  CHECK((*listed)[1].name == "xlog.db");
  CHECK((*listed)[1].size == 3);
  auto none = repo->list("absent");
  REQUIRE(none);
  CHECK(none->empty());

  auto info = repo->info("wals/0000000100000000/seg");
  REQUIRE(info);
  REQUIRE(info->has_value());
  CHECK((*info)->size == 4);
  CHECK_FALSE((*info)->is_dir);

  REQUIRE(repo->link("wals/0000000100000000/seg", "copy"));
  CHECK(test::read_text(dir / "copy") == "1234");
  CHECK_FALSE(repo->link("wals/xlog.db", "copy"));  // exists

  REQUIRE(repo->remove("wals/0000000100000000/seg"));
  REQUIRE(repo->remove("wals/0000000100000000/seg"));  // missing is fine
  auto gone = repo->info("wals/0000000100000000/seg");
  REQUIRE(gone);
  CHECK_FALSE(gone->has_value());
}

TEST_CASE("append adds durably to the end and creates the file", "[common][storage]") {
  TempDir dir;
  auto repo = storage::make_posix(dir.path());
  REQUIRE(repo->append("xlog.db", "a\n"));
  REQUIRE(repo->append("xlog.db", "b\n"));
  CHECK(test::read_text(dir / "xlog.db") == "a\nb\n");
  struct stat sb {};
  REQUIRE(::stat((dir / "xlog.db").c_str(), &sb) == 0);
  CHECK((sb.st_mode & 0777) == 0600);
}

TEST_CASE("paths that climb out of the root are refused", "[common][storage]") {
  TempDir dir;
  auto repo = storage::make_posix(dir / "root");
  for (const char* bad : {"..", "../x", "a/../../x", "a/.."}) {
    INFO(bad);
    CHECK_FALSE(repo->open_write(bad));
    CHECK_FALSE(repo->open_read(bad));
    CHECK_FALSE(repo->remove(bad));
  }
}

TEST_CASE("the local storage takes absolute paths as they are", "[common][storage]") {
  TempDir dir;
  REQUIRE(storage::write_file(storage::root(), dir / "abs", "x"));
  CHECK(test::read_text(dir / "abs") == "x");
  CHECK(storage::root().local_path(dir / "abs") == dir / "abs");
}

TEST_CASE("durable_rename moves a local file and fsyncs both directories", "[common][storage]") {
  TempDir dir;
  REQUIRE(make_dirs(dir / "errors"));
  test::write_text(dir / "seg", "data");
  REQUIRE(storage::durable_rename(-1, dir / "seg", dir / "errors/seg.bad"));
  CHECK_FALSE(path_exists(dir / "seg"));
  CHECK(test::read_text(dir / "errors/seg.bad") == "data");
  Status st = storage::durable_rename(-1, dir / "seg", dir / "errors/again");
  REQUIRE_FALSE(st);
  CHECK_THAT(st.message(), Contains("could not rename \"" + dir / "seg" + "\""));
}

TEST_CASE("compressed writes and reads round-trip through every codec", "[common][storage]") {
  TempDir dir;
  auto repo = storage::make_posix(dir.path());
  const std::string data = noise(1 << 20, 3) + std::string(2 << 20, 'a');
  for (codec::Codec c : {codec::Codec::none, codec::Codec::gzip, codec::Codec::lz4, codec::Codec::zstd}) {
    INFO(codec::codec_name(c));
    const std::string path = std::string("seg") + codec::codec_suffix(c);
    auto w = storage::open_compressed(*repo, path, c);
    REQUIRE(w);
    for (size_t at = 0; at < data.size(); at += 70000) REQUIRE((*w)->write(std::string_view(data).substr(at, 70000)));
    REQUIRE((*w)->commit());
    CHECK((*w)->written() == data.size());
    auto info = repo->info(path);
    REQUIRE(info);
    REQUIRE(info->has_value());
    CHECK((*info)->size == (*w)->stored());
    if (c != codec::Codec::none) CHECK((*w)->stored() < data.size());
    CHECK(codec::detect_codec(test::read_text(dir / path).substr(0, 8)) == c);
    auto r = storage::open_decompressed(*repo, path, c);
    REQUIRE(r);
    std::string back;
    char buf[4096];
    for (;;) {
      auto n = (*r)->read(buf, sizeof buf);
      REQUIRE(n);
      if (*n == 0) break;
      back.append(buf, *n);
    }
    CHECK(back == data);
  }
  CHECK(names_in(*repo, "").size() == 4);
}

TEST_CASE("a compressed file abandoned midway leaves nothing; corrupt input names the file", "[common][storage]") {
  TempDir dir;
  auto repo = storage::make_posix(dir.path());
  {
    auto w = storage::open_compressed(*repo, "x.zst", codec::Codec::zstd);
    REQUIRE(w);
    REQUIRE((*w)->write(noise(100000, 4)));
  }
  CHECK(names_in(*repo, "").empty());
  REQUIRE(storage::write_file(*repo, "junk.gz", "not gzip at all"));
  auto r = storage::open_decompressed(*repo, "junk.gz", codec::Codec::gzip);
  REQUIRE(r);
  char buf[64];
  auto n = (*r)->read(buf, sizeof buf);
  REQUIRE_FALSE(n);
  CHECK_THAT(n.status().message(), Contains("could not decompress \"" + dir / "junk.gz" + "\""));
  auto bad_level = storage::open_compressed(*repo, "y.gz", codec::Codec::gzip, 42);
  REQUIRE_FALSE(bad_level);
  CHECK(bad_level.status().code() == ErrorCode::usage);
  CHECK(names_in(*repo, "") == std::vector<std::string>{"junk.gz"});
}
