// The fault matrix, PostgreSQL stops (docs/reliability.md): a private
// cluster of the harness (PgServer::start), crashed (immediate shutdown)
// under a backup paused right after it wrote STARTED, then started again.
#include <catch2/catch.hpp>

#include "catalog/backup_info.h"
#include "common/fs.h"
#include "cron/cron_support.h"
#include "support/pause_listener.h"
#include "support/pg_server.h"

using namespace cellar;
using namespace cellar::test;

TEST_CASE("a backup whose PostgreSQL crashes under it is FAILED with the reason; after the restart the next is DONE",
          "[faults][pg]") {
  auto pg = PgServer::start();
  CellarEnv env;
  env.add_server("main", pg->conninfo(), "slot_name = \"crash\"\ncreate_slot = \"auto\"\nreceive_wal_backoff_limit = 1");
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
