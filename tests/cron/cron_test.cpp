// `cellar cron` end to end: the real binary, its detached receive-wal
// children against the harness PostgreSQL, and the backup steps on
// fabricated catalogues.
#include <signal.h>

#include <catch2/catch.hpp>

#include "catalog/backup_info.h"
#include "common/fs.h"
#include "cron/cron_support.h"
#include "locks/lock_names.h"
#include "pg/wal_names.h"
#include "support/pause_listener.h"
#include "support/pg_server.h"
#include "wal/wal_store.h"

using namespace cellar;
using namespace cellar::test;

namespace {

std::string status_of(const CellarEnv& env, const std::string& server, const std::string& id) {
  auto info = catalog::load_backup_info(env.server_dir(server) + "/base/" + id);
  return info ? catalog::status_name(info->status) + (info->error.empty() ? "" : ": " + info->error) : "missing";
}

Child hold_lock(const CellarEnv& env, const locks::LockName& name) {
  Child holder = spawn_helper("lock-hold", {env.home() + "/" + locks::make_lock_file_name(name)});
  REQUIRE(holder.read_line().rfind("locked", 0) == 0);
  return holder;
}

}  // namespace

TEST_CASE("two crons started at the same instant start exactly one receive-wal per server and both exit 0", "[cron]") {
  PgServer& pg = shared_pg();
  CellarEnv env;
  env.add_server("a", pg.conninfo(), "create_slot = \"auto\"\nslot_name = \"cron_two_a\"");
  env.add_server("b", pg.conninfo(), "create_slot = \"auto\"\nslot_name = \"cron_two_b\"");
  ReceiverGuard guard(env, {"a", "b"}, pg.conninfo(), {"cron_two_a", "cron_two_b"});

  Child first = env.spawn_cellar({"cron"});
  Child second = env.spawn_cellar({"cron"});
  std::string out;
  for (Child* c : {&first, &second})
    for (std::string line; !(line = c->read_line()).empty();) out += line + "\n";
  INFO(out);
  CHECK(first.wait() == 0);
  CHECK(second.wait() == 0);
  REQUIRE(wait_until([&] { return receiver_pid(env, "a") && receiver_pid(env, "b"); }, 10));
  // Losers of a race (if any) exit at once; what stays is one per server.
  CHECK(wait_until([&] { return count_receivers(env, "a") == 1 && count_receivers(env, "b") == 1; }, 5));
  CHECK(count_of(out, "Starting receive-wal for server 'a'") == 1);
  CHECK(count_of(out, "Starting receive-wal for server 'b'") == 1);

  // A third cron sees them running and starts nothing.
  pid_t a = *receiver_pid(env, "a");
  auto again = env.run({"cron"});
  CHECK(again.exit_code == 0);
  CHECK_FALSE(contains(again.out, "Starting receive-wal"));
  CHECK(receiver_pid(env, "a") == a);
  CHECK(count_receivers(env, "a") == 1);
}

TEST_CASE("a receive-wal killed with SIGKILL is restarted by the next cron and no WAL segment is lost", "[cron]") {
  PgServer& pg = shared_pg();
  CellarEnv env;
  env.add_server("main", pg.conninfo(), "create_slot = \"auto\"\nslot_name = \"cron_kill\"");
  ReceiverGuard guard(env, {"main"}, pg.conninfo(), {"cron_kill"});

  auto started = env.run({"cron"});
  INFO(started.out << started.err);
  REQUIRE(started.exit_code == 0);
  REQUIRE(wait_until([&] { return receiver_pid(env, "main").has_value(); }, 10));
  std::string before = switch_segment(env, "main");
  cron_until_archived(env, "main", before);

  pid_t killed = *receiver_pid(env, "main");
  ::kill(killed, SIGKILL);
  REQUIRE(wait_until([&] { return !receiver_pid(env, "main"); }, 10));
  pg.psql("CREATE TABLE IF NOT EXISTS cron_kill_t(x int); INSERT INTO cron_kill_t SELECT generate_series(1, 50000)");
  std::string while_down = switch_segment(env, "main");

  auto restarted = env.run({"cron"});
  INFO(restarted.out << restarted.err);
  CHECK(restarted.exit_code == 0);
  CHECK(contains(restarted.out, "Starting receive-wal for server 'main'"));
  REQUIRE(wait_until([&] { return receiver_pid(env, "main").has_value(); }, 10));
  CHECK(*receiver_pid(env, "main") != killed);
  std::string after = switch_segment(env, "main");
  cron_until_archived(env, "main", after);

  auto first = pg::parse_wal_file_name(before, pg::kDefaultSegmentSize);
  auto last = pg::parse_wal_file_name(after, pg::kDefaultSegmentSize);
  REQUIRE(last->segno > first->segno + 1);
  CHECK(wal::is_archived(env.server_dir("main"), while_down));
  for (auto s = first->segno; s <= last->segno; ++s) {
    std::string name = pg::make_segment_name(first->tli, s, pg::kDefaultSegmentSize);
    INFO(name);
    CHECK(wal::is_archived(env.server_dir("main"), name));
  }
}

TEST_CASE("cron marks FAILED a STARTED backup whose process died, and leaves one whose id lock is held", "[cron]") {
  CellarEnv env;
  env.add_server("main", "host=/nonexistent port=1 user=postgres", "streaming_archiver = false");
  fabricate_backup(env, "main", "20260101T000000", "STARTED", segment(2), segment(2));
  fabricate_backup(env, "main", "20260102T000000", "STARTED", segment(4), segment(4));
  Child running = hold_lock(env, {locks::LockKind::backup_id, "main", "20260102T000000"});

  auto r = env.run({"cron"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "Marked backup 20260101T000000 of server 'main' FAILED"));
  CHECK(status_of(env, "main", "20260101T000000").rfind("FAILED: backup process died", 0) == 0);
  CHECK(status_of(env, "main", "20260102T000000") == "STARTED");
}

TEST_CASE("cron turns WAITING_FOR_WALS into DONE once its WAL is archived, or FAILED naming the missing segment",
          "[cron]") {
  CellarEnv env;
  env.add_server("main", "host=/nonexistent port=1 user=postgres", "streaming_archiver = false");
  fabricate_backup(env, "main", "20260101T000000", "WAITING_FOR_WALS", segment(2), segment(3));
  fabricate_backup(env, "main", "20260102T000000", "WAITING_FOR_WALS", segment(5), segment(6));
  fabricate_backup(env, "main", "20260103T000000", "WAITING_FOR_WALS", segment(9), segment(10));
  fabricate_wals(env, "main", {segment(2), segment(3), segment(6), segment(7), segment(9)});

  auto r = env.run({"cron"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(status_of(env, "main", "20260101T000000") == "DONE");
  CHECK(status_of(env, "main", "20260102T000000") ==
        "FAILED: at least one WAL file is missing: the first missing WAL file is " + segment(5));
  CHECK(status_of(env, "main", "20260103T000000") == "WAITING_FOR_WALS");  // 10 may still come
  CHECK(contains(r.out, "WAL check of backup 20260101T000000 of server 'main': DONE"));
}

TEST_CASE("retention removes exactly the OBSOLETE backups and the WAL only they needed, skipping a busy one",
          "[cron]") {
  CellarEnv env;
  env.add_server("main", "host=/nonexistent port=1 user=postgres",
                 "streaming_archiver = false\nretention_policy = \"REDUNDANCY 2\"");
  // Newest first: b4 VALID, b3 VALID, b2 KEEP:FULL, b1 OBSOLETE, b0 OBSOLETE; f FAILED is not retention's.
  fabricate_backup(env, "main", "20260100T000000", "DONE", segment(2), segment(2));  // b0
  fabricate_backup(env, "main", "20260101T000000", "DONE", segment(4), segment(4));  // b1
  fabricate_backup(env, "main", "20260102T000000", "DONE", segment(6), segment(6), 3600, {{"keep", "full"}});
  fabricate_backup(env, "main", "20260103T000000", "FAILED", segment(7), segment(7));
  fabricate_backup(env, "main", "20260104T000000", "DONE", segment(8), segment(8));
  fabricate_backup(env, "main", "20260105T000000", "DONE", segment(9), segment(9));
  std::vector<std::string> all;
  for (uint64_t s = 1; s <= 10; ++s) all.push_back(segment(s));
  fabricate_wals(env, "main", all);
  auto exists = [&](const std::string& id) { return path_exists(env.server_dir("main") + "/base/" + id); };

  {
    Child busy = hold_lock(env, {locks::LockKind::backup_id, "main", "20260100T000000"});
    auto r = env.run({"cron"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(contains(r.out,
                   "WARNING: another action is in progress for the backup 20260100T000000 of server 'main', "
                   "skipping retention policy application"));
    CHECK(contains(r.out, "Enforcing retention policy: removing backup 20260101T000000 of server 'main'"));
    CHECK(exists("20260100T000000"));
    CHECK_FALSE(exists("20260101T000000"));
    CHECK(archived_names(env, "main") == all);  // b0 still needs everything from segment 2
  }
  auto r = env.run({"cron"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK_FALSE(exists("20260100T000000"));
  for (const char* id : {"20260102T000000", "20260103T000000", "20260104T000000", "20260105T000000"}) {
    INFO(id);
    CHECK(exists(id));
  }
  // WAL before the oldest remaining (non-failed) backup's begin_wal is gone, from xlog.db and from disk.
  std::vector<std::string> kept(all.begin() + 5, all.end());
  CHECK(archived_names(env, "main") == kept);
  CHECK_FALSE(wal::is_archived(env.server_dir("main"), segment(5)));
  CHECK(wal::is_archived(env.server_dir("main"), segment(6)));
  // A third pass has nothing left to remove.
  CHECK_FALSE(contains(env.run({"cron"}).out, "Enforcing retention policy"));
}

TEST_CASE("a busy global cron lock or server cron lock is one information line and exit 0", "[cron]") {
  CellarEnv env;
  env.add_server("a", "host=/nonexistent port=1 user=postgres", "streaming_archiver = false");
  env.add_server("b", "host=/nonexistent port=1 user=postgres", "streaming_archiver = false");
  env.add_server("c", "host=/nonexistent port=1 user=postgres", "streaming_archiver = false\nactive = false");
  {
    Child other = hold_lock(env, {locks::LockKind::global_cron, "", ""});
    auto r = env.run({"cron"});
    CHECK(r.exit_code == 0);
    CHECK(contains(r.out, "another cron"));
    CHECK(count_of(r.out, "\n") == 1);
    CHECK(r.err.empty());
  }
  Child other = hold_lock(env, {locks::LockKind::cron, "a", ""});
  fabricate_backup(env, "b", "20260101T000000", "STARTED", segment(2), segment(2));
  auto r = env.run({"cron"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "skipping to the next server"));
  CHECK(contains(r.out, "Skipping inactive server 'c'"));
  CHECK(status_of(env, "b", "20260101T000000").rfind("FAILED", 0) == 0);  // b was handled
}

TEST_CASE("a failing server does not stop cron from handling the next one, and cron then exits 1", "[cron]") {
  CellarEnv env;
  env.add_server("a", "host=/nonexistent port=1 user=postgres", "streaming_archiver = false");
  env.add_server("b", "host=/nonexistent port=1 user=postgres", "streaming_archiver = false");
  REQUIRE(make_dirs(env.server_dir("a")));
  write_text(env.server_dir("a") + "/identity.json", "not json");  // archive-wal cannot read it
  fabricate_backup(env, "b", "20260101T000000", "STARTED", segment(2), segment(2));
  auto r = env.run({"cron"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "ERROR: cron of server 'a': "));
  CHECK(contains(r.err, "cron had errors on server(s) 'a'"));
  CHECK(status_of(env, "b", "20260101T000000").rfind("FAILED", 0) == 0);
}

TEST_CASE("cron restarts a receive-wal it started once its connection settings changed", "[cron]") {
  PgServer& pg = shared_pg();
  CellarEnv env;
  env.add_server("main", pg.conninfo(), "create_slot = \"auto\"\nslot_name = \"cron_conf\"");
  ReceiverGuard guard(env, {"main"}, pg.conninfo(), {"cron_conf", "cron_conf_2"});
  REQUIRE(env.run({"cron"}).exit_code == 0);
  REQUIRE(wait_until([&] { return receiver_pid(env, "main").has_value(); }, 10));
  pid_t old = *receiver_pid(env, "main");
  CHECK_FALSE(contains(env.run({"cron"}).out, "Stopping"));

  // Same server, another slot: a different connection setting.
  std::string text = read_text(env.config());
  text.replace(text.find("\"cron_conf\""), 11, "\"cron_conf_2\"");
  write_text(env.config(), text);
  auto r = env.run({"cron"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "Stopping receive-wal of server 'main' (PID " + std::to_string(old) +
                            "): its connection settings changed"));
  REQUIRE(wait_until([&] { return receiver_pid(env, "main").has_value(); }, 10));
  CHECK(*receiver_pid(env, "main") != old);
}

TEST_CASE("a real backup killed with SIGKILL while STARTED is marked FAILED by the next cron", "[cron]") {
  PgServer& pg = shared_pg();
  CellarEnv env;
  env.add_server("main", pg.conninfo(), "streaming_archiver = false\ncompression = \"gzip\"");
  // Held still right after it wrote STARTED, then killed there.
  PauseListener paused("backup-started");
  Child backup = env.spawn_cellar({"backup", "main", "--no-progress"}, {paused.env()});
  auto pid = paused.wait_reached();
  REQUIRE(pid);
  REQUIRE(*pid == backup.pid());
  auto names = list_dir(env.server_dir("main") + "/base");
  REQUIRE(names);
  REQUIRE(names->size() == 1);
  std::string id = names->front();
  REQUIRE(status_of(env, "main", id) == "STARTED");
  backup.kill(SIGKILL);
  CHECK(backup.wait() == 128 + SIGKILL);
  auto r = env.run({"cron"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "Marked backup " + id + " of server 'main' FAILED"));
  CHECK(status_of(env, "main", id).rfind("FAILED: backup process died", 0) == 0);
  auto list = env.run({"list-backups", "main"});
  CHECK(contains(list.out, id + " - FAILED"));
}

TEST_CASE("retention never counts nor removes a WAITING_FOR_WALS backup, and keeps the WAL it still waits on",
          "[cron]") {
  CellarEnv env;
  env.add_server("main", "host=/nonexistent port=1 user=postgres",
                 "streaming_archiver = false\nretention_policy = \"REDUNDANCY 1\"");
  fabricate_backup(env, "main", "20260100T000000", "DONE", segment(2), segment(2));
  fabricate_backup(env, "main", "20260101T000000", "DONE", segment(4), segment(4));
  fabricate_backup(env, "main", "20260102T000000", "WAITING_FOR_WALS", segment(6), segment(7));
  std::vector<std::string> wals;
  for (uint64_t s = 1; s <= 6; ++s) wals.push_back(segment(s));  // segment 7 not archived yet
  fabricate_wals(env, "main", wals);
  auto exists = [&](const std::string& id) { return path_exists(env.server_dir("main") + "/base/" + id); };

  auto first = env.run({"cron"});
  INFO(first.out << first.err);
  CHECK(first.exit_code == 0);
  CHECK_FALSE(exists("20260100T000000"));  // REDUNDANCY 1 counts DONE backups only: b1 stays
  CHECK(exists("20260101T000000"));
  CHECK(exists("20260102T000000"));
  CHECK(status_of(env, "main", "20260102T000000") == "WAITING_FOR_WALS");
  auto left = archived_names(env, "main");
  CHECK(left == std::vector<std::string>(wals.begin() + 3, wals.end()));  // from b1's begin_wal on

  fabricate_wals(env, "main", {segment(7)});
  auto second = env.run({"cron"});
  INFO(second.out << second.err);
  CHECK(status_of(env, "main", "20260102T000000") == "DONE");
  CHECK_FALSE(exists("20260101T000000"));  // now b2 is the one DONE backup retention keeps
  CHECK(archived_names(env, "main") == std::vector<std::string>{segment(6), segment(7)});
}
