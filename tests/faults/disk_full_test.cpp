// The fault matrix, a full disk (docs/reliability.md): a small tmpfs
// mounted (as root) over a server's wals/ or streaming/, over home or over a
// recover destination, filled, the real binary run against it. Nothing is
// committed or acknowledged that is not whole, the sources stay, and once
// there is space again the work is done (by the next run, or by the same
// receive-wal).
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <catch2/catch.hpp>

#include "common/fs.h"
#include "cron/cron_support.h"
#include "support/pg_server.h"

using namespace cellar;
using namespace cellar::test;

namespace {

constexpr uint64_t kSeg = pg::kDefaultSegmentSize;

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

// The end of the run of whole segments in `dir` that starts with `first`:
// what receive-wal has durably stored (a .partial counts for nothing).
pg::Lsn stored_end(const std::string& dir, const std::string& first) {
  pg::SegNo segno = pg::parse_wal_file_name(first, kSeg)->segno;
  struct stat sb {};
  while (::stat((dir + "/" + segment(segno)).c_str(), &sb) == 0 && static_cast<uint64_t>(sb.st_size) == kSeg) ++segno;
  return pg::segment_start(segno, kSeg);
}

uint64_t used_bytes(const std::string& dir) {
  struct statvfs vfs {};
  REQUIRE(::statvfs(dir.c_str(), &vfs) == 0);
  return (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize;
}

// One line of `text` that starts with `prefix`, or "".
std::string line_starting(const std::string& text, const std::string& prefix) {
  for (size_t at = 0; at < text.size();) {
    size_t nl = std::min(text.find('\n', at), text.size());
    if (text.compare(at, prefix.size(), prefix) == 0) return text.substr(at, nl - at);
    at = nl + 1;
  }
  return "";
}

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

TEST_CASE(
    "receive-wal on a full disk says so, never acknowledges what it could not store, and resumes by itself once "
    "there is space",
    "[faults][pg]") {
  auto pg = PgServer::start();
  CellarEnv env;
  env.add_server("main", pg->conninfo(),
                 "slot_name = \"full_rw\"\ncreate_slot = \"auto\"\nreceive_wal_backoff_limit = 1");
  ReceiverGuard receivers(env, {"main"});
  const std::string streaming = env.server_dir("main") + "/streaming";
  const std::string log = env.home() + "/cellar.log";
  SmallDisk disk(streaming, "40m");  // room for two zero-filled segments, not three
  Child receiver = env.spawn_cellar({"receive-wal", "main"});
  REQUIRE(wait_until([&] { return slot_active(*pg, "full_rw"); }, 20));
  auto out_of_space = [&] { return contains(read_text(log), "No space left on device"); };

  // WAL, one segment at a time, until receive-wal cannot start the next.
  pg->psql("CREATE TABLE filler(x int)");
  const std::string first = switch_segment(env, "main");
  std::string closed = first;
  for (int round = 0; !out_of_space(); ++round) {
    REQUIRE(round < 4);
    REQUIRE(wait_until([&] { return path_exists(streaming + "/" + closed) || out_of_space(); }, 30));
    pg->psql("INSERT INTO filler VALUES (1)");
    if (!out_of_space()) closed = switch_segment(env, "main");
  }
  // (a) Said in its log, on every attempt, by the same process.
  REQUIRE(wait_until([&] { return count_of(read_text(log), "No space left on device") >= 2; }, 20));
  INFO(read_text(log));
  CHECK(contains(read_text(log), "reconnecting in 1 s"));
  CHECK(receiver_pid(env, "main") == receiver.pid());
  // (b) The slot was told no more than the whole segments streaming/ holds,
  // although the server has written more.
  pg::Lsn stored = stored_end(streaming, first);
  CHECK(stored >= pg::segment_start(pg::parse_wal_file_name(first, kSeg)->segno + 2, kSeg));
  CHECK(slot_restart_lsn(*pg, "full_rw") <= stored);
  CHECK(*pg::parse_lsn(pg->psql("SELECT pg_current_wal_lsn()")) > stored);
  for (const auto& name : *list_dir(streaming)) CHECK_FALSE(contains(name, ".cellar-tmp."));

  // (c) Space again: the same receive-wal streams on, and the archive has no gap.
  disk.resize("100m");
  std::string last = switch_segment(env, "main");
  cron_until_archived(env, "main", last);
  CHECK(receiver_pid(env, "main") == receiver.pid());
  CHECK(archive_gaps(env, "main", first, last).empty());
}

TEST_CASE("recover into a full disk fails with the reason, leaves DEST as it found it, and works once there is room",
          "[faults][pg]") {
  auto pg = PgServer::start();
  CellarEnv env;
  env.add_server("main", pg->conninfo(), "slot_name = \"full_rec\"\ncreate_slot = \"auto\"");
  ReceiverGuard receivers(env, {"main"});
  Child receiver = env.spawn_cellar({"receive-wal", "main"});
  REQUIRE(wait_until([&] { return slot_active(*pg, "full_rec"); }, 20));
  auto backup =
      env.run({"backup", "main", "--no-progress", "--wait", "--wait-timeout", "120", "--immediate-checkpoint"});
  INFO(backup.out << backup.err);
  REQUIRE(backup.exit_code == 0);
  TempDir tmp;
  const std::string mount = tmp / "disk";
  SmallDisk disk(mount, "8m");  // a few MiB of a cluster of some 40
  REQUIRE(::chmod(mount.c_str(), 0750) == 0);
  auto recover = [&](const std::string& dest) { return env.run({"recover", "main", "latest", dest, "--no-progress"}); };
  auto failed_for_space = [&](const RunResult& r, const std::string& dest) {
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(contains(line_starting(r.err, "ERROR: "), "No space left on device"));
    CHECK(contains(r.err, "\nDETAIL: \"" + dest + "\" was left as it was found"));
  };

  // An empty DEST (the mount point): emptied again, its mode kept.
  failed_for_space(recover(mount), mount);
  CHECK(list_dir(mount)->empty());
  struct stat sb {};
  REQUIRE(::stat(mount.c_str(), &sb) == 0);
  CHECK((sb.st_mode & 0777) == 0750);
  // An absent DEST under an absent parent: both gone again.
  failed_for_space(recover(mount + "/new/restore"), mount + "/new/restore");
  CHECK(list_dir(mount)->empty());
  CHECK(used_bytes(mount) < 1024 * 1024);  // the space is free again

  disk.resize("512m");
  auto restored = recover(mount + "/new/restore");
  INFO(restored.out << restored.err);
  CHECK(restored.exit_code == 0);
  CHECK(read_text(mount + "/new/restore/PG_VERSION") == "15\n");
  CHECK(path_exists(mount + "/new/restore/recovery.signal"));
}
