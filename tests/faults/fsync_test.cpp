// The fault matrix, I/O errors (docs/reliability.md): fsync failing with EIO
// under the real binary (an LD_PRELOAD shim at the OS edge,
// faults/fsync_fault_shim.cpp). Each operation fails naming the path and
// the errno, commits nothing, and never retries an fsync and then calls the
// file good; once the fault is gone the next run completes the work.
#include <catch2/catch.hpp>

#include "catalog/backup_info.h"
#include "common/fs.h"
#include "cron/cron_support.h"
#include "support/pg_server.h"

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

TEST_CASE("a backup whose fsync fails is FAILED naming the file and EIO; the next one without the fault is DONE",
          "[faults][pg]") {
  auto pg = PgServer::start();
  CellarEnv env;
  env.add_server("main", pg->conninfo(), "slot_name = \"fsync_b\"\ncreate_slot = \"auto\"");
  ReceiverGuard receivers(env, {"main"});
  Child receiver = env.spawn_cellar({"receive-wal", "main"});  // without the fault
  REQUIRE(wait_until([&] { return slot_active(*pg, "fsync_b"); }, 20));
  TempDir logs;

  env.set_env(fault("/data/PG_VERSION", false, logs / "fsync.log"));
  auto failed = env.run({"backup", "main", "--no-progress", "--immediate-checkpoint"});
  env.set_env({});
  INFO(failed.out << failed.err);
  CHECK(failed.exit_code == 1);
  CHECK(contains(failed.err, "ERROR: backup "));
  CHECK(contains(failed.err, "could not fsync \""));
  CHECK(contains(failed.err, "/data/PG_VERSION"));
  CHECK(contains(failed.err, "Input/output error"));
  std::string shim_log = read_text(logs / "fsync.log");
  CHECK(contains(shim_log, "/data/PG_VERSION"));  // the shim did fail it
  CHECK_FALSE(contains(shim_log, "retried: "));
  auto ids = list_dir(env.server_dir("main") + "/base");
  REQUIRE(ids);
  REQUIRE(ids->size() == 1);
  const std::string dir = env.server_dir("main") + "/base/" + ids->front();
  auto info = catalog::load_backup_info(dir);
  REQUIRE(info);
  CHECK(info->status == catalog::BackupStatus::failed);
  CHECK(contains(info->error, "/data/PG_VERSION"));
  CHECK(contains(info->error, "Input/output error"));
  CHECK(*list_dir(dir) == std::vector<std::string>{"backup.info"});  // its files are gone, no temp left

  check_next_backup_done(env, ids->front());
}

TEST_CASE(
    "receive-wal whose fsync fails logs the file and EIO, never fsyncs that descriptor again, keeps the slot "
    "before it, and a receive-wal without the fault leaves no gap",
    "[faults][pg]") {
  // A short wal_sender_timeout: the server asks for a reply (and so for an
  // fsync of the open segment) after 3 s instead of the 10 s status interval.
  auto pg = PgServer::start({{{"wal_sender_timeout", "6s"}}});
  pg->psql("SELECT pg_create_physical_replication_slot('hold', true)");  // keeps the server's WAL to compare
  CellarEnv env;
  env.add_server("main", pg->conninfo(),
                 "slot_name = \"fsync_rw\"\ncreate_slot = \"auto\"\nreceive_wal_backoff_limit = 1");
  ReceiverGuard receivers(env, {"main"});
  const std::string streaming = env.server_dir("main") + "/streaming";
  const std::string log = env.home() + "/cellar.log";
  TempDir logs;
  // Streaming starts in the server's current segment; the fault hits the
  // next one's .partial (not the zero-filled temp it is made from).
  const std::string first = pg->psql("SELECT pg_walfile_name(pg_current_wal_insert_lsn())");
  const pg::SegNo faulty = pg::parse_wal_file_name(first, pg::kDefaultSegmentSize)->segno + 1;
  const std::string faulty_path = streaming + "/" + segment(faulty) + ".partial";

  {
    Child receiver =
        env.spawn_cellar({"receive-wal", "main"}, fault(segment(faulty) + ".partial$", false, logs / "fsync.log"));
    REQUIRE(wait_until([&] { return slot_active(*pg, "fsync_rw"); }, 20));
    REQUIRE(switch_segment(env, "main") == first);
    REQUIRE(wait_until([&] { return path_exists(streaming + "/" + first); }, 20));
    pg->psql("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g");  // WAL in the faulty segment

    // Logged with the path and the errno, and again on each reconnect.
    auto failures = [&] {
      return count_of(read_text(log), "could not fsync \"" + faulty_path + "\": Input/output error");
    };
    REQUIRE(wait_until([&] { return failures() >= 2; }, 30));
    INFO(read_text(log));
    CHECK(count_of(read_text(log), "could not fsync") == failures());
    CHECK(receiver_pid(env, "main") == receiver.pid());
    // The slot was never told of WAL past the failed fsync.
    pg::Lsn before_fault = pg::segment_start(faulty, pg::kDefaultSegmentSize);
    CHECK(slot_restart_lsn(*pg, "fsync_rw") <= before_fault);
    CHECK(*pg::parse_lsn(pg->psql("SELECT pg_current_wal_lsn()")) > before_fault);
    // fsyncgate: no descriptor whose fsync failed was fsynced again.
    std::string shim_log = read_text(logs / "fsync.log");
    INFO(shim_log);
    CHECK(contains(shim_log, faulty_path + "\n"));
    CHECK_FALSE(contains(shim_log, "retried: "));
    REQUIRE(env.run({"receive-wal", "--stop", "main"}).exit_code == 0);
  }

  // Without the fault: the faulty segment is streamed again from its start.
  Child receiver = env.spawn_cellar({"receive-wal", "main"});
  REQUIRE(wait_until([&] { return slot_active(*pg, "fsync_rw"); }, 20));
  std::string last = switch_segment(env, "main");
  cron_until_archived(env, "main", last);
  CHECK(archive_gaps(env, "main", first, last).empty());
  TempDir out;
  auto got = env.run({"get-wal", "main", segment(faulty), "--output-directory", out.path()});
  REQUIRE(got.exit_code == 0);
  bool servers_bytes = read_text(out / segment(faulty)) == read_text(pg->data_dir() + "/pg_wal/" + segment(faulty));
  CHECK(servers_bytes);
}
