// The fault matrix, promotions and standbys (docs/reliability.md): two real
// clusters of the harness, a primary and its hot standby (a cold copy of the
// primary streaming from it). A backup taken from the standby; a failover
// in which the standby is promoted and conninfo moved to it by
// config-update, after which receive-wal follows the new timeline and a
// backup from before the promotion recovers to an instant after it.
#include <catch2/catch.hpp>

#include "catalog/backup_info.h"
#include "common/fs.h"
#include "cron/cron_support.h"
#include "support/pg_server.h"
#include "support/restored.h"

using namespace cellar;
using namespace cellar::test;

namespace {

catalog::BackupInfo info_of(const CellarEnv& env, const std::string& id) {
  auto info = catalog::load_backup_info(env.server_dir("main") + "/base/" + id);
  INFO(info.status().message());
  REQUIRE(info);
  return *info;
}

// The standby has replayed everything the primary wrote so far.
void wait_caught_up(const PgServer& primary, const PgServer& standby) {
  std::string lsn = primary.psql("SELECT pg_current_wal_lsn()");
  REQUIRE(
      wait_until([&] { return standby.psql("SELECT pg_last_wal_replay_lsn() >= '" + lsn + "'::pg_lsn") == "t"; }, 60));
}

std::string conninfo_json(const std::string& conninfo) {
  return R"([{"scope":"server","server_name":"main","conninfo":")" + conninfo + R"("}])";
}

}  // namespace

TEST_CASE("a backup of a hot standby switches WAL on the primary (primary_conninfo), is DONE and restores",
          "[faults][pg]") {
  auto primary = PgServer::start();
  primary->psql("CREATE TABLE sb(x int, h text)");
  auto standby = PgServer::start_standby(*primary);
  REQUIRE(standby->psql("SELECT pg_is_in_recovery()") == "t");
  CellarEnv env;
  env.add_server("main", standby->conninfo(),
                 "slot_name = \"sb\"\ncreate_slot = \"auto\"\nprimary_conninfo = \"" + primary->conninfo() + "\"");
  ReceiverGuard receivers(env, {"main"});
  Child receiver = env.spawn_cellar({"receive-wal", "main"});
  REQUIRE(wait_until([&] { return receiver_pid(env, "main").has_value(); }, 20));
  primary->psql("INSERT INTO sb SELECT g, md5(g::text) FROM generate_series(1, 20000) g");
  wait_caught_up(*primary, *standby);
  std::string want = primary->psql("SELECT count(*) || '|' || md5(string_agg(h, ',' ORDER BY x)) FROM sb");

  // Without primary_conninfo nothing could close the end segment on a
  // standby (pg_switch_wal() runs only on a primary): with it, --wait ends DONE.
  auto taken = env.run({"backup", "main", "--no-progress", "--wait", "--wait-timeout", "120"});
  INFO(taken.out << taken.err);
  REQUIRE(taken.exit_code == 0);
  std::string id = backup_id_of(taken);
  catalog::BackupInfo info = info_of(env, id);
  CHECK(info.status == catalog::BackupStatus::done);
  CHECK(info.timeline == 1u);
  // The restore point went to the primary.
  CHECK(contains(read_text(primary->log_file()), "restore point \"cellar_" + id + "\""));

  primary->psql("INSERT INTO sb SELECT g, 'later' FROM generate_series(20001, 20100) g");  // after the backup
  Restored r;
  auto out = r.recover(env, "main", id, {"--target-immediate", "--target-action", "promote"});
  INFO(out.out << out.err);
  REQUIRE(out.exit_code == 0);
  r.start();
  REQUIRE(wait_until([&] { return r.query("SELECT pg_is_in_recovery()") == "f"; }, 90));
  CHECK(r.query("SELECT count(*) || '|' || md5(string_agg(h, ',' ORDER BY x)) FROM sb") == want);
}

TEST_CASE("a standby backup without primary_conninfo waits for the primary to close its WAL, then is DONE",
          "[faults][pg]") {
  auto primary = PgServer::start();
  auto standby = PgServer::start_standby(*primary);
  CellarEnv env;
  env.add_server("main", standby->conninfo(), "slot_name = \"sb_wait\"\ncreate_slot = \"auto\"");
  ReceiverGuard receivers(env, {"main"});
  Child receiver = env.spawn_cellar({"receive-wal", "main"});
  REQUIRE(wait_until([&] { return receiver_pid(env, "main").has_value(); }, 20));
  primary->psql("CREATE TABLE w AS SELECT generate_series(1, 1000) g");
  wait_caught_up(*primary, *standby);

  auto waited = env.run({"backup", "main", "--no-progress", "--wait", "--wait-timeout", "3"});
  INFO(waited.out << waited.err);
  CHECK(waited.exit_code == 1);
  CHECK(contains(waited.out + waited.err, "taken from a standby"));
  CHECK(contains(waited.out + waited.err, "set primary_conninfo"));
  std::string id = backup_id_of(waited);
  REQUIRE(info_of(env, id).status == catalog::BackupStatus::waiting_for_wals);

  primary->psql("SELECT pg_switch_wal()");  // the primary closes the segment in its own time
  std::string end_wal = info_of(env, id).end_wal;
  cron_until_archived(env, "main", end_wal);
  REQUIRE(wait_until(
      [&] {
        env.run({"cron"});
        return info_of(env, id).status == catalog::BackupStatus::done;
      },
      30));
}

TEST_CASE(
    "after a failover to a promoted standby (config-update of conninfo) receive-wal follows timeline 2, check "
    "reports the switch, a backup on timeline 2 is DONE and an older backup recovers past the promotion",
    "[faults][pg]") {
  auto primary = PgServer::start();
  primary->psql("CREATE TABLE tl(x int PRIMARY KEY)");
  auto standby = PgServer::start_standby(*primary);
  CellarEnv env;
  env.add_server("main", primary->conninfo(),
                 "slot_name = \"promo\"\ncreate_slot = \"auto\"\nreceive_wal_backoff_limit = 1");
  ReceiverGuard receivers(env, {"main"});
  start_streaming(env, "main");
  auto before =
      env.run({"backup", "main", "--no-progress", "--wait", "--wait-timeout", "120", "--immediate-checkpoint"});
  INFO(before.out << before.err);
  REQUIRE(before.exit_code == 0);
  std::string old_id = backup_id_of(before);
  primary->psql("INSERT INTO tl SELECT generate_series(1, 1000)");
  wait_caught_up(*primary, *standby);

  // Failover: the old primary goes, the standby is promoted and takes writes.
  primary->stop();
  standby->promote();
  standby->psql("INSERT INTO tl SELECT generate_series(1001, 2000)");
  std::string target = standby->psql("SELECT clock_timestamp()");
  standby->psql("INSERT INTO tl SELECT generate_series(2001, 3000)");  // after the target

  auto moved = env.run({"config-update", conninfo_json(standby->conninfo())});
  INFO(moved.err);
  REQUIRE(moved.exit_code == 0);
  // Until receive-wal follows, check says the archive is behind the server.
  auto behind = env.run({"check", "main"});
  INFO(behind.out);
  CHECK(behind.exit_code == 1);
  CHECK(contains(behind.out, "timeline: FAILED"));
  CHECK(contains(behind.out, "PostgreSQL is on timeline 2"));
  CHECK(contains(behind.out, "00000002.history is not archived"));

  // The next cron restarts receive-wal on the new conninfo (its settings
  // changed); it resumes timeline 1 from where it was and follows timeline 2.
  REQUIRE(env.run({"cron"}).exit_code == 0);
  std::string closed = switch_segment(env, "main");
  CHECK(closed.substr(0, 8) == "00000002");
  cron_until_archived(env, "main", closed);
  auto names = archived_names(env, "main");
  CHECK(std::find(names.begin(), names.end(), "00000002.history") != names.end());
  auto healthy = env.run({"check", "main"});
  INFO(healthy.out);
  CHECK(contains(healthy.out, "timeline: OK"));
  CHECK(contains(healthy.out, "WAL archive continuity: OK"));
  CHECK(healthy.exit_code == 0);

  auto after =
      env.run({"backup", "main", "--no-progress", "--wait", "--wait-timeout", "120", "--immediate-checkpoint"});
  INFO(after.out << after.err);
  REQUIRE(after.exit_code == 0);
  catalog::BackupInfo on_two = info_of(env, backup_id_of(after));
  CHECK(on_two.status == catalog::BackupStatus::done);
  CHECK(on_two.timeline == 2u);
  CHECK(on_two.begin_wal.substr(0, 8) == "00000002");

  // The backup from timeline 1 recovers across the promotion to the target.
  Restored r;
  auto out =
      r.recover(env, "main", old_id, {"--target-time", target, "--target-tli", "latest", "--target-action", "promote"});
  INFO(out.out << out.err);
  REQUIRE(out.exit_code == 0);
  r.start();
  REQUIRE(wait_until([&] { return r.query("SELECT pg_is_in_recovery()") == "f"; }, 90));
  CHECK(r.query("SELECT count(*) || '|' || min(x) || '|' || max(x) FROM tl") == "2000|1|2000");
}
