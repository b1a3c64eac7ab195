// The fault matrix, a full repository disk (docs/reliability.md): a small
// tmpfs mounted (as root) over a server's wals/ or over home, filled, the
// real binary run against it. Nothing is committed that is not whole, the
// sources stay, and once there is space again the next run does the work.
#include <catch2/catch.hpp>

#include "common/fs.h"
#include "support/cellar_env.h"
#include "wal/wal_fixture.h"

using namespace cellar;
using namespace cellar::test;

namespace {

constexpr uint64_t kSeg = pg::kDefaultSegmentSize;

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

// A tmpfs of `size` over `dir` for the scope; REQUIREs the mount (the suite
// runs as root, as scripts/test does).
class SmallDisk {
 public:
  SmallDisk(std::string dir, const std::string& size) : dir_(std::move(dir)) {
    REQUIRE(make_dirs(dir_));
    auto mounted = run_program({"mount", "-t", "tmpfs", "-o", "size=" + size + ",mode=0700", "tmpfs", dir_});
    INFO("mount: " << mounted.err);
    REQUIRE(mounted.exit_code == 0);
  }
  ~SmallDisk() { run_program({"umount", "-l", dir_}); }
  void resize(const std::string& size) {
    REQUIRE(run_program({"mount", "-o", "remount,size=" + size, dir_}).exit_code == 0);
  }

 private:
  std::string dir_;
};

}  // namespace

TEST_CASE(
    "archive-wal on a full disk keeps the segment in streaming/, catalogues nothing, and archives it once "
    "there is space",
    "[faults]") {
  CellarEnv env;
  env.add_server("main", "host=127.0.0.1 port=1 dbname=postgres");
  const std::string streaming = env.server_dir("main") + "/streaming";
  put_file(streaming, segment(1), wal_bytes(segment(1), 1));
  put_file(streaming, segment(2), wal_bytes(segment(2), 2));
  SmallDisk disk(env.server_dir("main") + "/wals", "20m");  // room for one segment, not two

  auto full = env.run({"archive-wal", "main"});
  INFO(full.out << full.err);
  CHECK(full.exit_code == 1);
  CHECK(contains(full.err, "No space left on device"));
  auto xlogdb = read_file(env.server_dir("main") + "/wals/xlog.db");
  std::string catalogued = xlogdb ? *xlogdb : "";
  CHECK_FALSE(contains(catalogued, segment(2)));
  CHECK(path_exists(streaming + "/" + segment(2)));
  // What is catalogued is stored whole; nothing half-written under a final name.
  if (contains(catalogued, segment(1)))
    CHECK(read_file(env.server_dir("main") + "/wals/0000000100000000/" + segment(1))->size() == kSeg);
  else
    CHECK(path_exists(streaming + "/" + segment(1)));
  auto stored = list_dir(env.server_dir("main") + "/wals/0000000100000000");
  if (stored)
    for (const auto& name : *stored) CHECK_FALSE(contains(name, ".cellar-tmp."));

  disk.resize("64m");
  auto later = env.run({"archive-wal", "main"});
  INFO(later.err);
  CHECK(later.exit_code == 0);
  std::string after = *read_file(env.server_dir("main") + "/wals/xlog.db");
  CHECK(contains(after, segment(1)));
  CHECK(contains(after, segment(2)));
  CHECK_FALSE(path_exists(streaming + "/" + segment(2)));
  CHECK(env.run({"get-wal", "main", segment(2)}).out == wal_bytes(segment(2), 2));
}

TEST_CASE("config-update on a full disk fails with the reason and leaves the old auto file whole", "[faults]") {
  CellarEnv env;
  env.add_server("main", "host=127.0.0.1 port=1 dbname=postgres");
  SmallDisk disk(env.home(), "1m");
  REQUIRE(env.run({"config-update", "[{\"scope\": \"server\", \"server_name\": \"main\", \"description\": \"old\"}]"})
              .exit_code == 0);
  const std::string auto_file = env.home() + "/.cellar.auto.toml";
  std::string before = read_text(auto_file);
  // Fill what is left.
  (void)run_program({"dd", "if=/dev/zero", "of=" + env.home() + "/filler", "bs=64k", "count=64"});

  std::string long_text(4000, 'x');
  auto r = env.run({"config-update",
                    "[{\"scope\": \"server\", \"server_name\": \"main\", \"description\": \"" + long_text + "\"}]"});
  INFO(r.out << r.err);
  CHECK(r.exit_code != 0);
  CHECK(contains(r.err, "No space left on device"));
  CHECK(read_text(auto_file) == before);
  for (const auto& name : *list_dir(env.home())) CHECK_FALSE(contains(name, ".cellar-tmp."));

  REQUIRE(::unlink((env.home() + "/filler").c_str()) == 0);
  CHECK(env.run({"config-update", "[{\"scope\": \"server\", \"server_name\": \"main\", \"description\": \"new\"}]"})
            .exit_code == 0);
  CHECK(contains(read_text(auto_file), "new"));
}
