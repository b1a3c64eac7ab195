// `cellar check` end to end: the real binary against the harness PostgreSQL,
// in console, JSON and Nagios form, healthy and broken.
#include "check/check.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "common/fs.h"
#include "common/json.h"
#include "cron/cron_support.h"
#include "support/cellar_env.h"
#include "support/pg_server.h"
#include "wal/identity.h"
#include "wal/switch_wal.h"

using namespace cellar;
using namespace cellar::test;

namespace {

// Every check a healthy streaming server prints ("WAL archive" shows only when it fails).
const char* const kChecks[] = {"PostgreSQL",
                               "superuser or standard user with backup privileges",
                               "PostgreSQL streaming",
                               "wal_level",
                               "max_wal_senders",
                               "replication slot",
                               "directories",
                               "retention policy settings",
                               "backup maximum age",
                               "backup minimum size",
                               "wal size",
                               "failed backups",
                               "minimum redundancy requirements",
                               "systemid coherence",
                               "receive-wal running",
                               "WAL archive continuity",
                               "archiver errors"};

bool has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    out.push_back(text.substr(start, nl - start));
  if (start < text.size()) out.push_back(text.substr(start));
  return out;
}

// A conninfo on which nothing listens: the shared server's socket dir, another port.
std::string dead_conninfo(const PgServer& pg, const std::string& extra = "") {
  return "host=" + pg.socket_dir() + " port=" + std::to_string(pg.port() + 1) + " user=postgres dbname=postgres" +
         extra;
}

// Every FAILED line carries a hint.
void check_hints(const std::string& out) {
  for (const auto& line : lines_of(out)) {
    INFO(line);
    if (has(line, ": FAILED")) CHECK(has(line, ": FAILED ("));
  }
}

// A server whose WAL archive is not empty, without streaming (so no slot or
// receive-wal is expected): every check passes against a healthy PostgreSQL.
std::string no_streaming(CellarEnv& env, const std::string& server) {
  fabricate_wals(env, server, {segment(1)});
  return "streaming_archiver = false";
}

unsigned mode_of(const std::string& path) {
  struct stat sb {};
  REQUIRE(::stat(path.c_str(), &sb) == 0);
  return sb.st_mode & 07777;
}

}  // namespace

TEST_CASE("with receive-wal running and WAL archived check prints OK for every check, as text, JSON and Nagios",
          "[e2e][check]") {
  PgServer& pg = shared_pg();
  CellarEnv env;
  env.add_server("main", pg.conninfo(), "create_slot = \"auto\"\nslot_name = \"check_ok\"");
  ReceiverGuard guard(env, {"main"}, pg.conninfo(), {"check_ok"});
  start_streaming(env, "main");

  RunResult r = env.run({"check", "main"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(lines_of(r.out).at(0) == "Server main:");
  for (const char* name : kChecks) CHECK(has(r.out, std::string("\t") + name + ": OK"));
  CHECK(has(r.out, "\tminimum redundancy requirements: OK (have 0 backups, expected at least 0)\n"));
  CHECK(has(r.out, "\tbackup maximum age: OK (no last_backup_maximum_age provided)\n"));
  CHECK(has(r.out, "\tsystemid coherence: OK\n"));  // receive-wal recorded identity.json
  CHECK_FALSE(has(r.out, "FAILED"));
  CHECK_FALSE(has(r.out, "WAL archive:"));
  CHECK(r.err.empty());
  for (const char* sub : {"", "/base", "/wals", "/streaming", "/incoming", "/errors"})
    CHECK(mode_of(env.server_dir("main") + sub) == 0700);

  RunResult json = env.run({"--format", "json", "check", "main"});
  CHECK(json.exit_code == 0);
  auto doc = Json::parse(json.out);
  REQUIRE(doc);
  const Json* main = doc->find("main");
  REQUIRE(main);
  for (const char* name : kChecks) {
    INFO(name);
    const Json* c = main->find(check::check_key(name));
    REQUIRE(c);
    CHECK(c->find("status")->as_string() == "OK");
  }
  CHECK(main->find("postgresql")->find("hint")->as_string().empty());

  RunResult nagios = env.run({"check", "main", "--nagios"});
  INFO(nagios.out);
  CHECK(nagios.exit_code == 0);
  CHECK(has(nagios.out, "CELLAR OK - Ready to serve the backup for main|main=0B main_wals="));
  CHECK(lines_of(nagios.out).size() == 1);
}

TEST_CASE("with PostgreSQL stopped check prints FAILED with a hint, exits 1, and Nagios says CRITICAL (2)",
          "[e2e][check]") {
  PgServer& pg = shared_pg();
  CellarEnv env;
  env.add_server("main", pg.conninfo(), no_streaming(env, "main"));
  pg.stop();
  RunResult text = env.run({"check", "main"});
  RunResult nagios = env.run({"check", "main", "--nagios"});
  RunResult json = env.run({"-f", "json", "check", "main"});
  pg.start_again();

  INFO(text.out << text.err);
  CHECK(text.exit_code == 1);
  CHECK(has(text.out, "\tPostgreSQL: FAILED (could not connect to PostgreSQL: "));
  CHECK(has(text.out, "check that PostgreSQL is running"));
  CHECK(has(text.out, "\tPostgreSQL streaming: FAILED (replication connection failed: "));
  CHECK(has(text.out, "\tdirectories: OK\n"));
  CHECK_FALSE(has(text.out, "wal_level"));  // needs a connection: not reported twice
  CHECK_FALSE(has(text.out, "systemid coherence"));
  check_hints(text.out);

  auto lines = lines_of(nagios.out);
  CHECK(nagios.exit_code == 2);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] ==
        "CELLAR CRITICAL - server main has issues * main FAILED: PostgreSQL, PostgreSQL streaming|main=0B "
        "main_wals=100B");
  CHECK(has(lines[1], "main.PostgreSQL: FAILED (could not connect"));
  CHECK(has(lines[2], "main.PostgreSQL streaming: FAILED ("));

  CHECK(json.exit_code == 1);
  auto doc = Json::parse(json.out);
  REQUIRE(doc);
  const Json* c = doc->find("main")->find("postgresql");
  REQUIRE(c);
  CHECK(c->find("status")->as_string() == "FAILED");
  CHECK_FALSE(c->find("hint")->as_string().empty());
}

TEST_CASE("a role without replication and backup privileges fails those checks with what to grant", "[e2e][check]") {
  PgServer& pg = shared_pg();
  pg.create_role("check_plain");
  CellarEnv env;
  env.add_server("main", pg.conninfo("check_plain"));
  RunResult r = env.run({"check", "main"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(has(r.out, "\tPostgreSQL: OK\n"));
  CHECK(has(r.out,
            "\tsuperuser or standard user with backup privileges: FAILED (role \"check_plain\" is not a "
            "superuser and lacks backup privileges; as a superuser run: GRANT pg_read_all_settings TO "
            "\"check_plain\"; GRANT pg_checkpoint TO \"check_plain\""));
  CHECK(has(r.out, "\tPostgreSQL streaming: FAILED ("));
  CHECK(has(r.out, "must be superuser or replication role"));
  CHECK(has(r.out, "ALTER ROLE \"check_plain\" REPLICATION)\n"));
  CHECK(has(r.out, "\twal_level: OK\n"));
}

TEST_CASE("a standard role with replication and backup grants passes every check", "[e2e][check]") {
  PgServer& pg = shared_pg();
  pg.create_role("check_backup", "REPLICATION");
  pg.psql(
      "GRANT pg_read_all_settings, pg_checkpoint TO check_backup;"
      "GRANT EXECUTE ON FUNCTION pg_switch_wal() TO check_backup;"
      "GRANT EXECUTE ON FUNCTION pg_create_restore_point(text) TO check_backup");
  CellarEnv env;
  env.add_server("main", pg.conninfo("check_backup"), no_streaming(env, "main"));
  RunResult r = env.run({"check", "main"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(has(r.out, "\tsuperuser or standard user with backup privileges: OK\n"));
  CHECK(has(r.out, "\tPostgreSQL streaming: OK\n"));
}

TEST_CASE("with backup_type incremental, check names the file functions a standard role must be granted",
          "[e2e][check]") {
  PgServer& pg = shared_pg();
  pg.create_role("check_incr", "REPLICATION");
  CellarEnv env;
  env.add_server("main", pg.conninfo("check_incr"), "backup_type = \"incremental\"\n" + no_streaming(env, "main"));
  RunResult r = env.run({"check", "main"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(has(r.out,
            "\tincremental backup privileges: FAILED (role \"check_incr\" cannot read files for incremental backups; "
            "as a superuser run: GRANT EXECUTE ON FUNCTION pg_read_binary_file(text, bigint, bigint, boolean) TO "
            "\"check_incr\"; GRANT EXECUTE ON FUNCTION pg_ls_dir(text, boolean, boolean) TO \"check_incr\"; GRANT "
            "EXECUTE ON FUNCTION pg_stat_file(text, boolean) TO \"check_incr\""));
  pg.psql(
      "GRANT EXECUTE ON FUNCTION pg_read_binary_file(text, bigint, bigint, boolean) TO check_incr;"
      "GRANT EXECUTE ON FUNCTION pg_ls_dir(text, boolean, boolean) TO check_incr;"
      "GRANT EXECUTE ON FUNCTION pg_stat_file(text, boolean) TO check_incr;"
      "GRANT EXECUTE ON FUNCTION pg_backup_start(text, boolean) TO check_incr;"
      "GRANT EXECUTE ON FUNCTION pg_backup_stop(boolean) TO check_incr");
  RunResult again = env.run({"check", "main"});
  INFO(again.out);
  CHECK(has(again.out, "\tincremental backup privileges: OK\n"));
  // Without backup_type incremental the line is not printed.
  CellarEnv plain;
  plain.add_server("main", pg.conninfo("check_incr"), no_streaming(plain, "main"));
  CHECK_FALSE(has(plain.run({"check", "main"}).out, "incremental backup privileges"));
}

TEST_CASE("wal_level minimal and max_wal_senders 0 fail their checks with hints", "[e2e][check]") {
  auto minimal = PgServer::start({{{"wal_level", "minimal"}, {"max_wal_senders", "0"}}});
  CellarEnv env;
  env.add_server("main", minimal->conninfo());
  RunResult r = env.run({"check", "main"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(has(r.out, "\tPostgreSQL: OK\n"));
  CHECK(has(r.out, "\twal_level: FAILED (please set it to a higher level than 'minimal')\n"));
  CHECK(has(r.out, "\tmax_wal_senders: FAILED (max_wal_senders is 0, cellar needs at least 2"));
  CHECK(has(r.out, "\tPostgreSQL streaming: FAILED ("));
  CHECK(has(r.out, "raise max_wal_senders in postgresql.conf"));
}

TEST_CASE("an inactive server's failures do not change the exit code", "[e2e][check]") {
  PgServer& pg = shared_pg();
  CellarEnv env;
  env.add_server("main", pg.conninfo(), no_streaming(env, "main"));
  env.add_server("old", dead_conninfo(pg), "active = false");

  // `all` leaves inactive servers out (SPEC §4.2): name them.
  RunResult all = env.run({"check", "main", "old"});
  INFO(all.out << all.err);
  CHECK(all.exit_code == 0);
  CHECK(has(all.out, "Server old (inactive):\n"));
  CHECK(has(all.out, "\tPostgreSQL: FAILED ("));
  CHECK(env.run({"check", "old"}).exit_code == 0);
  CHECK_FALSE(has(env.run({"check", "all"}).out, "Server old"));

  RunResult nagios = env.run({"check", "main", "old", "--nagios"});
  CHECK(nagios.exit_code == 0);
  CHECK(nagios.out ==
        "CELLAR OK - Ready to serve the backup for main * IGNORING: old|main=0B main_wals=100B old=0B old_wals=0B\n");
}

TEST_CASE("check of an unknown server is a usage error, and UNKNOWN (3) for Nagios", "[e2e][check]") {
  CellarEnv env;
  env.add_server("main", "host=/nonexistent port=1 user=postgres");
  RunResult r = env.run({"check", "nope"});
  CHECK(r.exit_code == 2);
  CHECK(has(r.err, "ERROR: unknown server \"nope\""));
  RunResult n = env.run({"check", "nope", "--nagios"});
  CHECK(n.exit_code == 3);
  CHECK(n.out == "CELLAR UNKNOWN - unknown server \"nope\"\n");
  CHECK(env.run({"check"}).exit_code == 2);
}

TEST_CASE("a lock directory that cannot be used fails the directories check with a hint", "[e2e][check]") {
  CellarEnv env;
  write_text(env.home() + "/not-a-dir", "");
  env.add_global("lock_directory = \"" + env.home() + "/not-a-dir\"");
  env.add_server("main", "host=/nonexistent port=1 user=postgres");
  RunResult r = env.run({"check", "main"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(has(r.out, "\tdirectories: FAILED (\"" + env.home() +
                       "/not-a-dir\" exists and is not a directory; make the "
                       "lock_directory"));
}

TEST_CASE("passwords in conninfo never appear in check output or the log", "[e2e][check]") {
  PgServer& pg = shared_pg();
  pg.create_role("check_pw", "", "s3cr3t-xyz");
  CellarEnv env;
  env.add_server("good", pg.conninfo("check_pw") + " password=s3cr3t-xyz");
  env.add_server("badpw", pg.conninfo("check_pw") + " password=wrong-s3cr3t-abc");
  env.add_server("down", dead_conninfo(pg, " password='s3cr3t-xyz'"));
  std::string everything;
  for (auto args : std::vector<std::vector<std::string>>{
           {"check", "all"}, {"-d", "check", "all"}, {"-f", "json", "check", "all"}, {"check", "all", "--nagios"}}) {
    RunResult r = env.run(args);
    CHECK(r.exit_code != 0);
    everything += r.out + r.err;
  }
  everything += read_text(env.home() + "/cellar.log");
  INFO(everything);
  CHECK(has(everything, "\tPostgreSQL: OK"));  // the good password works
  CHECK(has(everything, "password authentication failed for user \"check_pw\""));
  CHECK_FALSE(has(everything, "s3cr3t"));
}

TEST_CASE("a missing or inactive slot, a stopped receive-wal, an empty archive and another cluster fail with hints",
          "[e2e][check]") {
  PgServer& pg = shared_pg();
  CellarEnv env;
  env.add_server("main", pg.conninfo(), "slot_name = \"check_slot\"");
  ReceiverGuard guard(env, {"main"}, pg.conninfo(), {"check_slot"});

  RunResult missing = env.run({"check", "main"});
  INFO(missing.out << missing.err);
  CHECK(missing.exit_code == 1);
  CHECK(lines_of(missing.out).at(1) == "\tWAL archive: FAILED (please make sure WAL shipping is setup)");
  CHECK(has(missing.out,
            "\treplication slot: FAILED (replication slot 'check_slot' doesn't exist. Please execute "
            "'cellar receive-wal --create-slot main')\n"));
  CHECK(has(missing.out,
            "\treceive-wal running: FAILED (no receive-wal process is running for server 'main'; "
            "'cellar cron' (run every minute) starts it; see \"" +
                env.server_dir("main") + "/receive-wal.log\")\n"));
  CHECK(has(missing.out, "\tsystemid coherence: OK (no system Id stored on disk)\n"));
  check_hints(missing.out);

  REQUIRE(env.run({"receive-wal", "--create-slot", "main"}).exit_code == 0);
  REQUIRE(wal::save_identity(env.server_dir("main"), {"1234567890", 150000, 16 * 1024 * 1024, 1}));
  RunResult inactive = env.run({"check", "main"});
  INFO(inactive.out);
  CHECK(has(inactive.out, "\treplication slot: FAILED (slot 'check_slot' not active: is 'receive-wal' running?)\n"));
  CHECK(has(inactive.out,
            "\tsystemid coherence: FAILED (the system Id of the connected PostgreSQL server changed, "
            "stored in \"" +
                env.server_dir("main") + "/identity.json\")\n"));
  check_hints(inactive.out);

  // With streaming_archiver off an existing slot is only a warning, and receive-wal is not expected.
  std::string text = read_text(env.config());
  write_text(env.config(), text + "streaming_archiver = false\n");
  RunResult off = env.run({"check", "main"});
  CHECK(has(off.out,
            "\treplication slot: OK (WARNING: slot 'check_slot' is initialised but not required by the "
            "current config)\n"));
  CHECK_FALSE(has(off.out, "receive-wal running"));
}

TEST_CASE("backup age, failed backups, redundancy, WAL gaps and archiver errors fail with their hints",
          "[e2e][check]") {
  CellarEnv env;
  env.add_server("main", "host=/nonexistent port=1 user=postgres",
                 "last_backup_maximum_age = \"1 DAYS\"\nminimum_redundancy = 3\nstreaming_archiver = false");
  RunResult none = env.run({"check", "main"});
  CHECK(has(none.out,
            "\tbackup maximum age: FAILED (interval provided: 1 day, latest backup age: No available "
            "backups; take one: cellar backup main)\n"));

  fabricate_backup(env, "main", "20260101T000000", "DONE", segment(2), segment(2), 2 * 86400 + 3 * 3600 + 60);
  fabricate_backup(env, "main", "20260102T000000", "FAILED", segment(5), segment(5));
  fabricate_wals(env, "main", {segment(2), segment(3), segment(5), segment(6)});
  REQUIRE(make_dirs(env.server_dir("main") + "/errors"));
  for (const char* f : {"000000010000000000000003.20260101T000000Z.duplicate", "garbage.20260101T000000Z.unknown",
                        "00000001000000000000000X.20260101T000000Z.unknown"})
    write_text(env.server_dir("main") + "/errors/" + f, "x");

  RunResult r = env.run({"check", "main"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(has(r.out,
            "\tbackup maximum age: FAILED (interval provided: 1 day, latest backup age: 2 days, 3 hours, "
            "1 minute; take a backup: cellar backup main)\n"));
  CHECK(has(r.out, "\tbackup minimum size: OK (1000 B)\n"));
  CHECK(has(r.out, "\tfailed backups: FAILED (there are 1 failed backups; "));
  CHECK(has(r.out, "\tminimum redundancy requirements: FAILED (have 1 backups, expected at least 3)\n"));
  CHECK(has(r.out, "\tWAL archive continuity: FAILED (WAL segment " + segment(4) + " is missing from the archive"));
  CHECK(has(r.out, "\tarchiver errors: FAILED (duplicates: 1, unknown: 2; inspect the files in \"" +
                       env.server_dir("main") + "/errors\""));
  CHECK(has(r.out, "\tretention policy settings: OK\n"));
  CHECK_FALSE(has(r.out, "WAL archive: FAILED"));
  check_hints(r.out);

  RunResult json = env.run({"-f", "json", "check", "main"});
  auto doc = Json::parse(json.out);
  REQUIRE(doc);
  for (const char* key : {"backup_maximum_age", "failed_backups", "minimum_redundancy_requirements",
                          "wal_archive_continuity", "archiver_errors"}) {
    INFO(key);
    const Json* c = doc->find("main")->find(key);
    REQUIRE(c);
    CHECK(c->find("status")->as_string() == "FAILED");
    CHECK_FALSE(c->find("hint")->as_string().empty());
  }

  // Perfdata: the last backup's size, the WAL since it began (segments 2, 3, 5, 6: 100 B each).
  RunResult nagios = env.run({"check", "main", "--nagios"});
  CHECK(nagios.exit_code == 2);
  CHECK(has(lines_of(nagios.out).at(0), "|main=1000B main_wals=400B"));
  CHECK(has(nagios.out, "main.WAL archive continuity: FAILED (WAL segment " + segment(4)));
}
