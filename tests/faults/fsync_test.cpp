// The fault matrix, I/O errors (docs/reliability.md): fsync failing with EIO
// under the real binary (an LD_PRELOAD shim at the OS edge,
// faults/fsync_fault_shim.cpp). Each operation fails naming the path and
// the errno, commits nothing, and never retries an fsync and then calls the
// file good; once the fault is gone the next run completes the work.
#include <catch2/catch.hpp>

#include "common/fs.h"
#include "support/cellar_env.h"
#include "wal/wal_fixture.h"

using namespace cellar;
using namespace cellar::test;

namespace {

constexpr uint64_t kSeg = pg::kDefaultSegmentSize;

std::vector<std::string> fault(const std::string& needle, bool once, const std::string& log) {
  return {std::string("LD_PRELOAD=") + CELLAR_FSYNC_FAULT_SHIM, "CELLAR_FAIL_FSYNC=" + needle,
          std::string("CELLAR_FAIL_FSYNC_ONCE=") + (once ? "1" : "0"), "CELLAR_FAIL_FSYNC_LOG=" + log};
}

std::string xlogdb(const CellarEnv& env) {
  auto text = read_file(env.server_dir("main") + "/wals/xlog.db");
  return text ? *text : "";
}

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("archive-wal whose fsync fails names the file and EIO, catalogues nothing, and the next run archives it",
          "[faults]") {
  CellarEnv env;
  env.add_server("main", "host=127.0.0.1 port=1 dbname=postgres");
  const std::string streaming = env.server_dir("main") + "/streaming";
  put_file(streaming, segment(1), wal_bytes(segment(1), 1));
  TempDir logs;

  env.set_env(fault("/wals/", false, logs / "fsync.log"));
  auto failed = env.run({"archive-wal", "main"});
  INFO(failed.out << failed.err);
  CHECK(failed.exit_code == 1);
  CHECK(contains(failed.err, "could not fsync"));
  CHECK(contains(failed.err, "Input/output error"));
  CHECK(contains(read_text(logs / "fsync.log"), "/wals/"));  // the shim did fail it
  CHECK(path_exists(streaming + "/" + segment(1)));          // the source stays
  CHECK_FALSE(contains(xlogdb(env), segment(1)));
  auto stored = list_dir(env.server_dir("main") + "/wals/0000000100000000");
  CHECK((!stored || stored->empty()));  // no temp file, nothing under the final name

  env.set_env({});
  auto again = env.run({"archive-wal", "main"});
  INFO(again.err);
  CHECK(again.exit_code == 0);
  CHECK(contains(xlogdb(env), segment(1)));
  CHECK_FALSE(path_exists(streaming + "/" + segment(1)));
}

TEST_CASE(
    "a failed fsync is never retried and then called good: with only the first one failing, that segment "
    "stays unarchived",
    "[faults]") {
  CellarEnv env;
  env.add_server("main", "host=127.0.0.1 port=1 dbname=postgres");
  const std::string streaming = env.server_dir("main") + "/streaming";
  put_file(streaming, segment(1), wal_bytes(segment(1), 1));
  TempDir logs;

  // The second fsync of the same file would succeed: the page cache has
  // "cleaned" its pages. Accepting it would archive a segment whose bytes
  // may never have reached the disk.
  env.set_env(fault(segment(1), true, logs / "fsync.log"));
  auto r = env.run({"archive-wal", "main"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "could not fsync"));
  CHECK_FALSE(contains(xlogdb(env), segment(1)));
  CHECK(path_exists(streaming + "/" + segment(1)));
  env.set_env({});
  CHECK(env.run({"archive-wal", "main"}).exit_code == 0);
  CHECK(contains(xlogdb(env), segment(1)));
}

TEST_CASE("config-update whose fsync fails leaves the old auto file whole and says so", "[faults]") {
  CellarEnv env;
  env.add_server("main", "host=127.0.0.1 port=1 dbname=postgres");
  const std::string auto_file = env.home() + "/.cellar.auto.toml";
  REQUIRE(env.run({"config-update", "[{\"scope\": \"server\", \"server_name\": \"main\", \"description\": \"old\"}]"})
              .exit_code == 0);
  std::string before = read_text(auto_file);
  TempDir logs;

  env.set_env(fault(".cellar.auto.toml", false, logs / "fsync.log"));
  auto r = env.run({"config-update", "[{\"scope\": \"server\", \"server_name\": \"main\", \"description\": \"new\"}]"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "Input/output error"));
  env.set_env({});
  CHECK(read_text(auto_file) == before);
  auto listed = list_dir(env.home());
  REQUIRE(listed);
  for (const auto& name : *listed) CHECK_FALSE(contains(name, ".cellar-tmp."));
  CHECK(contains(env.run({"show-servers", "main"}).out, "old"));
}
