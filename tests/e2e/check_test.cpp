// `cellar check` end to end: the real binary against the harness PostgreSQL,
// in console, JSON and Nagios form, healthy and broken.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "common/json.h"
#include "support/cellar_env.h"
#include "support/pg_server.h"

using namespace cellar;
using namespace cellar::test;

namespace {

const char* const kChecks[] = {"PostgreSQL",           "superuser or standard user with backup privileges",
                               "PostgreSQL streaming", "wal_level",
                               "max_wal_senders",      "directories"};

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

unsigned mode_of(const std::string& path) {
  struct stat sb {};
  REQUIRE(::stat(path.c_str(), &sb) == 0);
  return sb.st_mode & 07777;
}

}  // namespace

TEST_CASE("check prints OK for every check against a running PostgreSQL and exits 0", "[e2e][check]") {
  PgServer& pg = shared_pg();
  CellarEnv env;
  env.add_server("main", pg.conninfo());
  RunResult r = env.run({"check", "main"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(lines_of(r.out).at(0) == "Server main:");
  for (const char* name : kChecks) CHECK(has(r.out, std::string("\t") + name + ": OK\n"));
  CHECK_FALSE(has(r.out, "FAILED"));
  CHECK(r.err.empty());
  for (const char* sub : {"", "/base", "/wals", "/streaming", "/incoming", "/errors"})
    CHECK(mode_of(env.server_dir("main") + sub) == 0700);
}

TEST_CASE("check --format json maps each check to its status and hint", "[e2e][check]") {
  PgServer& pg = shared_pg();
  CellarEnv env;
  env.add_server("main", pg.conninfo());
  RunResult r = env.run({"--format", "json", "check", "main"});
  CHECK(r.exit_code == 0);
  auto doc = Json::parse(r.out);
  REQUIRE(doc);
  const Json* main = doc->find("main");
  REQUIRE(main);
  for (const char* key : {"postgresql", "superuser_or_standard_user_with_backup_privileges", "postgresql_streaming",
                          "wal_level", "max_wal_senders", "directories"}) {
    INFO(key);
    const Json* c = main->find(key);
    REQUIRE(c);
    CHECK(c->find("status")->as_string() == "OK");
    CHECK(c->find("hint")->as_string().empty());
  }
}

TEST_CASE("check --nagios prints one OK line and exits 0", "[e2e][check]") {
  PgServer& pg = shared_pg();
  CellarEnv env;
  env.add_server("main", pg.conninfo());
  RunResult r = env.run({"check", "main", "--nagios"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "CELLAR OK - Ready to serve the backup for main|\n");
}

TEST_CASE("with PostgreSQL stopped check prints FAILED with a hint, exits 1, and Nagios says CRITICAL (2)",
          "[e2e][check]") {
  PgServer& pg = shared_pg();
  CellarEnv env;
  env.add_server("main", pg.conninfo());
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

  auto lines = lines_of(nagios.out);
  CHECK(nagios.exit_code == 2);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "CELLAR CRITICAL - server main has issues * main FAILED: PostgreSQL, PostgreSQL streaming|");
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
  env.add_server("main", pg.conninfo("check_backup"));
  RunResult r = env.run({"check", "main"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(has(r.out, "\tsuperuser or standard user with backup privileges: OK\n"));
  CHECK(has(r.out, "\tPostgreSQL streaming: OK\n"));
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
  env.add_server("main", pg.conninfo());
  env.add_server("old", dead_conninfo(pg), "active = false");

  RunResult all = env.run({"check", "all"});
  INFO(all.out << all.err);
  CHECK(all.exit_code == 0);
  CHECK(has(all.out, "Server old (inactive):\n\tPostgreSQL: FAILED ("));

  CHECK(env.run({"check", "old"}).exit_code == 0);

  RunResult nagios = env.run({"check", "all", "--nagios"});
  CHECK(nagios.exit_code == 0);
  CHECK(nagios.out == "CELLAR OK - Ready to serve the backup for main * IGNORING: old|\n");
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
