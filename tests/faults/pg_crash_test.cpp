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
#include "support/restored.h"
#include "support/tcp_proxy.h"

using namespace cellar;
using namespace cellar::test;

TEST_CASE(
    "a backup whose PostgreSQL crashes or shuts down fast under it is FAILED with the reason; after the restart the "
    "next is DONE",
    "[faults][pg]") {
  const bool crash = GENERATE(true, false);
  INFO((crash ? "immediate shutdown" : "fast shutdown"));
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
  if (crash)
    pg->stop_immediate();  // the crash, while the backup holds its session
  else
    pg->stop();  // fast: the server ends the backup's sessions and shuts down
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
  check_next_backup_done(env, names->front());
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
    "a stalled walsender (SIGSTOP) is noticed by receive-wal's silence timeout (receive_wal_timeout), which "
    "reconnects with no gap",
    "[faults][pg]") {
  auto pg = PgServer::start();
  CellarEnv env;
  env.add_server("main", pg->conninfo(),
                 "slot_name = \"stall\"\ncreate_slot = \"auto\"\nreceive_wal_backoff_limit = 1\n"
                 "receive_wal_timeout = 5");
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
  bool noticed = wait_until([&] { return contains(read_text(log), "no message from the server for 5 s"); }, 30);
  ::kill(stalled, SIGCONT);  // it finds its client gone and exits, freeing the slot
  INFO(read_text(log));
  REQUIRE(noticed);
  std::string after = switch_segment(env, "main");
  cron_until_archived(env, "main", after);
  CHECK(archive_gaps(env, "main", before, after).empty());
}

TEST_CASE(
    "a replication connection whose packets are dropped is given up after receive_wal_timeout and streams again "
    "once the network heals, with no gap",
    "[faults][pg]") {
  // wal_sender_timeout: the server's end of the cut connection (whose FIN
  // was lost too) lets the slot go after 5 s, as it would after 60 s.
  auto pg = PgServer::start({{{"wal_sender_timeout", "5s"}}});
  TcpProxy network(pg->socket_dir() + "/.s.PGSQL." + std::to_string(pg->port()));
  CellarEnv env;
  env.add_server("main", pg->conninfo(),
                 "slot_name = \"cut\"\ncreate_slot = \"auto\"\nreceive_wal_backoff_limit = 1\n"
                 "receive_wal_timeout = 4\nstreaming_conninfo = \"host=127.0.0.1 port=" +
                     std::to_string(network.port()) + " user=postgres dbname=postgres\"");
  ReceiverGuard receivers(env, {"main"});
  REQUIRE(env.run({"cron"}).exit_code == 0);  // receive-wal in the background, its log in receive-wal.log
  REQUIRE(wait_until([&] { return receiver_pid(env, "main").has_value(); }, 20));
  pid_t receiver = *receiver_pid(env, "main");
  std::string before = switch_segment(env, "main");
  cron_until_archived(env, "main", before);
  REQUIRE(network.accepted() >= 1);  // it does stream through the proxy

  network.drop(true);
  pg->psql("CREATE TABLE during_cut AS SELECT generate_series(1, 100000) g");
  std::string during = switch_segment(env, "main");  // written while nothing gets through
  const std::string log = env.server_dir("main") + "/receive-wal.log";
  bool noticed = wait_until([&] { return contains(read_text(log), "no message from the server for 4 s"); }, 30);
  INFO(read_text(log));
  REQUIRE(noticed);
  network.drop(false);

  std::string after = switch_segment(env, "main");
  cron_until_archived(env, "main", after);
  CHECK(receiver_pid(env, "main") == receiver);  // the same process reconnected
  CHECK(archive_gaps(env, "main", before, after).empty());
  auto names = archived_names(env, "main");
  CHECK(std::find(names.begin(), names.end(), during) != names.end());
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

TEST_CASE("a recover is not affected by PostgreSQL stopping under it: it reads only the archive", "[faults][pg]") {
  auto pg = PgServer::start();
  pg->psql("CREATE TABLE kept AS SELECT generate_series(1, 5000) g");
  CellarEnv env;
  env.add_server("main", pg->conninfo(), "slot_name = \"rec_stop\"\ncreate_slot = \"auto\"");
  ReceiverGuard receivers(env, {"main"});
  Child receiver = env.spawn_cellar({"receive-wal", "main"});
  REQUIRE(wait_until([&] { return receiver_pid(env, "main").has_value(); }, 20));
  auto taken =
      env.run({"backup", "main", "--no-progress", "--wait", "--wait-timeout", "120", "--immediate-checkpoint"});
  INFO(taken.out << taken.err);
  REQUIRE(taken.exit_code == 0);
  std::string id = backup_id_of(taken);

  Restored r;
  PauseListener paused("recover-copying");
  Child recover = env.spawn_cellar(
      {"recover", "main", id, r.dest, "--no-progress", "--target-immediate", "--target-action", "promote"},
      {paused.env()});
  REQUIRE(paused.wait_reached());
  pg->stop_immediate();  // the backed-up server goes away mid-copy
  paused.release();
  std::string out;
  for (std::string line; !(line = recover.read_line()).empty();) out += line;
  INFO(out);
  CHECK(recover.wait() == 0);
  r.start();
  REQUIRE(wait_until([&] { return r.query("SELECT pg_is_in_recovery()") == "f"; }, 90));
  CHECK(r.query("SELECT count(*) FROM kept") == "5000");
}
