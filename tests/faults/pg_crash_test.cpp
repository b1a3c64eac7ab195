// The fault matrix, PostgreSQL stops (docs/reliability.md): a private
// cluster of the harness (PgServer::start), crashed (immediate shutdown)
// under a backup paused right after it wrote STARTED, then started again.
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "catalog/backup_info.h"
#include "common/fs.h"
#include "cron/cron_support.h"
#include "pg/wal_names.h"
#include "support/pause_listener.h"
#include "support/pg_server.h"

using namespace cellar;
using namespace cellar::test;

TEST_CASE("a backup whose PostgreSQL crashes under it is FAILED with the reason; after the restart the next is DONE",
          "[faults][pg]") {
  auto pg = PgServer::start();
  CellarEnv env;
  env.add_server("main", pg->conninfo(),
                 "slot_name = \"crash\"\ncreate_slot = \"auto\"\nreceive_wal_backoff_limit = 1");
  ReceiverGuard receivers(env, {"main"});
  Child receiver = env.spawn_cellar({"receive-wal", "main"});
  REQUIRE(wait_until([&] { return receiver_pid(env, "main").has_value(); }, 20));

  PauseListener paused("backup-started");
  Child backup = env.spawn_cellar({"backup", "main", "--no-progress"}, {paused.env()});
  REQUIRE(paused.wait_reached());
  pg->stop_immediate();  // the crash, while the backup holds its session
  pg->start_again();
  paused.release();
  while (!backup.read_line().empty()) {
  }
  CHECK(backup.wait() == 1);
  auto names = list_dir(env.server_dir("main") + "/base");
  REQUIRE(names);
  REQUIRE(names->size() == 1);
  auto failed = catalog::load_backup_info(env.server_dir("main") + "/base/" + names->front());
  REQUIRE(failed);
  CHECK(failed->status == catalog::BackupStatus::failed);
  INFO(failed->error);
  CHECK_FALSE(failed->error.empty());

  // receive-wal reconnected by itself; the next backup completes.
  auto next = env.run({"backup", "main", "--no-progress", "--wait", "--wait-timeout", "120", "--immediate-checkpoint"});
  INFO(next.out << next.err);
  CHECK(next.exit_code == 0);
  auto after = list_dir(env.server_dir("main") + "/base");
  REQUIRE(after);
  REQUIRE(after->size() == 2);
  for (const auto& id : *after) {
    auto info = catalog::load_backup_info(env.server_dir("main") + "/base/" + id);
    REQUIRE(info);
    CHECK(info->status == (id == names->front() ? catalog::BackupStatus::failed : catalog::BackupStatus::done));
  }
}

TEST_CASE("receive-wal outlives a PostgreSQL crash and a fast shutdown: it reconnects and the archive has no gap",
          "[faults][pg]") {
  auto pg = PgServer::start();
  CellarEnv env;
  env.add_server("main", pg->conninfo(),
                 "slot_name = \"crash_rw\"\ncreate_slot = \"auto\"\nreceive_wal_backoff_limit = 1");
  ReceiverGuard receivers(env, {"main"});
  Child receiver = env.spawn_cellar({"receive-wal", "main"});
  REQUIRE(wait_until([&] { return receiver_pid(env, "main").has_value(); }, 20));
  std::string first = switch_segment(env, "main");
  cron_until_archived(env, "main", first);

  pg->stop_immediate();
  pg->start_again();
  std::string after_crash = switch_segment(env, "main");
  cron_until_archived(env, "main", after_crash);
  pg->stop();  // fast shutdown: the server sends what it has, then closes
  pg->start_again();
  std::string last = switch_segment(env, "main");
  cron_until_archived(env, "main", last);
  CHECK(receiver_pid(env, "main") == receiver.pid());  // the same process throughout

  // Every segment from the first to the last, each once.
  CHECK(archive_gaps(env, "main", first, last).empty());
}

TEST_CASE(
    "a stalled walsender (SIGSTOP) is noticed by receive-wal's 60 s silence timeout, which reconnects with no gap",
    "[faults][pg][slow]") {
  auto pg = PgServer::start();
  CellarEnv env;
  env.add_server("main", pg->conninfo(),
                 "slot_name = \"stall\"\ncreate_slot = \"auto\"\nreceive_wal_backoff_limit = 1");
  ReceiverGuard receivers(env, {"main"});
  REQUIRE(env.run({"cron"}).exit_code == 0);  // receive-wal in the background, its log in receive-wal.log
  REQUIRE(wait_until([&] { return receiver_pid(env, "main").has_value(); }, 20));
  std::string before = switch_segment(env, "main");
  cron_until_archived(env, "main", before);
  std::string walsender;
  REQUIRE(wait_until(
      [&] {
        walsender = pg->psql("SELECT pid FROM pg_stat_replication WHERE state = 'streaming'");
        return !walsender.empty();
      },
      20));
  pid_t stalled = static_cast<pid_t>(std::stol(walsender));

  REQUIRE(::kill(stalled, SIGSTOP) == 0);
  const std::string log = env.server_dir("main") + "/receive-wal.log";
  bool noticed = wait_until([&] { return contains(read_text(log), "no message from the server for 60 s"); }, 100);
  ::kill(stalled, SIGCONT);  // it finds its client gone and exits, freeing the slot
  INFO(read_text(log));
  REQUIRE(noticed);
  std::string after = switch_segment(env, "main");
  cron_until_archived(env, "main", after);
  auto names = archived_names(env, "main");
  for (uint64_t s = pg::parse_wal_file_name(before, pg::kDefaultSegmentSize)->segno;
       s <= pg::parse_wal_file_name(after, pg::kDefaultSegmentSize)->segno; ++s)
    CHECK(std::find(names.begin(), names.end(), pg::make_segment_name(1, s, pg::kDefaultSegmentSize)) != names.end());
}

TEST_CASE("a BASE_BACKUP whose walsender stalls fails after backup_stall_timeout instead of hanging", "[faults][pg]") {
  auto pg = PgServer::start();
  CellarEnv env;
  env.add_server("main", pg->conninfo(), "slot_name = \"stall_b\"\ncreate_slot = \"auto\"\nbackup_stall_timeout = 5");
  PauseListener paused("backup-streaming");
  Child backup = env.spawn_cellar({"backup", "main", "--no-progress", "--immediate-checkpoint"}, {paused.env()});
  REQUIRE(paused.wait_reached());
  std::string walsender = pg->psql("SELECT pid FROM pg_stat_replication WHERE state = 'backup'");
  REQUIRE_FALSE(walsender.empty());
  pid_t stalled = static_cast<pid_t>(std::stol(walsender));
  REQUIRE(::kill(stalled, SIGSTOP) == 0);
  paused.release();
  std::string out;
  for (std::string line; !(line = backup.read_line()).empty();) out += line + "\n";
  int code = backup.wait();
  ::kill(stalled, SIGCONT);
  INFO(out);
  CHECK(code == 1);
  auto names = list_dir(env.server_dir("main") + "/base");
  REQUIRE(names);
  REQUIRE(names->size() == 1);
  auto info = catalog::load_backup_info(env.server_dir("main") + "/base/" + names->front());
  REQUIRE(info);
  CHECK(info->status == catalog::BackupStatus::failed);
  CHECK(contains(info->error, "BASE_BACKUP stalled: no data from the server for 5 s"));
}
