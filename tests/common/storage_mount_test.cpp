// The storage namespace (common/storage_mount.h): paths under a mount go to
// its driver, everything else to the local disk; the longest mount wins; a
// mount's filter wraps the files it applies to and listings report the sizes
// a reader sees; list_tree and remove_tree walk a tree.
#include "common/storage_mount.h"

#include <catch2/catch.hpp>
#include <string>

#include "common/fs.h"
#include "common/storage_posix.h"
#include "support/run.h"

using namespace cellar;
using cellar::test::read_text;
using cellar::test::TempDir;

namespace {

// A filter that stores "F:" before the content: enough to see that it ran.
class MarkFilter final : public storage::Filter {
 public:
  bool applies(const std::string& path) const override { return path.find("plain") == std::string::npos; }
  Result<std::unique_ptr<storage::Writer>> wrap(std::unique_ptr<storage::Writer> inner) const override {
    if (Status st = inner->write("F:"); !st) return st;
    return inner;
  }
  Result<std::unique_ptr<storage::Reader>> wrap(std::unique_ptr<storage::Reader> inner,
                                                const std::string&) const override {
    char skip[2];
    auto n = inner->read(skip, 2);
    if (!n) return n.status();
    return inner;
  }
  uint64_t plain_size(uint64_t stored) const override { return stored - 2; }
  std::string id() const override { return "mark"; }
};

struct Mounted {
  TempDir home, repo;
  Mounted(std::shared_ptr<const storage::Filter> filter = nullptr) {
    REQUIRE(make_dirs(home / "main"));
    storage::mount({home / "main/base", storage::make_posix(repo.path()), "base", filter});
  }
  ~Mounted() { storage::unmount_all(); }
};

}  // namespace

TEST_CASE("a file under a mount lives in the mounted driver, not on the local path", "[common]") {
  Mounted m;
  REQUIRE(storage::root().make_dir(m.home / "main/base/ID/data"));
  REQUIRE(storage::write_file(storage::root(), m.home / "main/base/ID/data/f", "content"));
  CHECK(read_text(m.repo / "base/ID/data/f") == "content");
  CHECK_FALSE(path_exists(m.home / "main/base"));
  auto back = storage::read_file(storage::root(), m.home / "main/base/ID/data/f");
  REQUIRE(back);
  CHECK(*back == "content");
  CHECK(storage::root().describe(m.home / "main/base/ID") == m.repo / "base/ID");
  // Outside the mount: the local disk.
  REQUIRE(storage::write_file(storage::root(), m.home / "main/spool", "x"));
  CHECK(path_exists(m.home / "main/spool"));
  CHECK(storage::mount_of(m.home / "main/base/ID") != nullptr);
  CHECK(storage::mount_of(m.home / "main/based") == nullptr);
}

TEST_CASE("list_tree gives every file and directory below a mounted directory, and remove_tree removes them",
          "[common]") {
  Mounted m;
  const std::string b = m.home / "main/base/ID";
  REQUIRE(storage::root().make_dir(b + "/data/sub/empty"));
  REQUIRE(storage::write_file(storage::root(), b + "/data/sub/f", "1"));
  REQUIRE(storage::write_file(storage::root(), b + "/backup.info", "2"));
  auto tree = storage::root().list_tree(b);
  REQUIRE(tree);
  std::vector<std::string> names;
  for (const auto& e : *tree) names.push_back(e.name + (e.is_dir ? "/" : ""));
  CHECK(names == std::vector<std::string>{"backup.info", "data/", "data/sub/", "data/sub/empty/", "data/sub/f"});
  REQUIRE(storage::root().remove_tree(b));
  CHECK_FALSE(path_exists(m.repo / "base/ID"));
  CHECK_FALSE(storage::exists(storage::root(), b));
}

TEST_CASE("a mount's filter wraps the files it applies to and listings show the sizes a reader sees", "[common]") {
  Mounted m(std::make_shared<MarkFilter>());
  const std::string dir = m.home / "main/base";
  REQUIRE(storage::root().make_dir(dir));
  REQUIRE(storage::write_file(storage::root(), dir + "/secret", "abc"));
  REQUIRE(storage::write_file(storage::root(), dir + "/plain", "abc"));
  CHECK(read_text(m.repo / "base/secret") == "F:abc");
  CHECK(read_text(m.repo / "base/plain") == "abc");
  CHECK(storage::filter_id_of(dir + "/secret") == "mark");
  CHECK(storage::filter_id_of(dir + "/plain") == "");
  auto back = storage::read_file(storage::root(), dir + "/secret");
  REQUIRE(back);
  CHECK(*back == "abc");
  auto listed = storage::root().list(dir);
  REQUIRE(listed);
  REQUIRE(listed->size() == 2);
  for (const auto& e : *listed) CHECK(e.size == 3);
  auto info = storage::root().info(dir + "/secret");
  REQUIRE(info);
  REQUIRE(*info);
  CHECK((*info)->size == 3);
  CHECK_FALSE(storage::root().append(dir + "/secret", "more"));
  CHECK_FALSE(storage::root().open_read(dir + "/secret", 1, 1));
}
