// backup/check without PostgreSQL: JSON keys and the three renderings.
#include "check/check.h"

#include <catch2/catch.hpp>

using namespace cellar;
using namespace cellar::check;

namespace {
ServerChecks server(const std::string& name, bool active, std::vector<CheckResult> results) {
  return {name, active, std::move(results), {}};
}
CheckResult ok(const std::string& name) { return {name, true, ""}; }
CheckResult bad(const std::string& name, const std::string& hint) { return {name, false, hint}; }
}  // namespace

TEST_CASE("check JSON keys are names lowercased with spaces and dashes as underscores and dots removed", "[check]") {
  CHECK(check_key("PostgreSQL") == "postgresql");
  CHECK(check_key("superuser or standard user with backup privileges") ==
        "superuser_or_standard_user_with_backup_privileges");
  CHECK(check_key("receive-wal running") == "receive_wal_running");
  CHECK(check_key("pg_basebackup compatible") == "pg_basebackup_compatible");
  CHECK(check_key("max. wal-size") == "max_wal_size");
}

TEST_CASE("check names are unique and keep Barman's order", "[check]") {
  const auto& table = check_table();
  // Barman HEAD's order (barman-behaviour.md §8); max_wal_senders and WAL
  // archive continuity are cellar's own.
  std::vector<std::string> names;
  for (const auto& spec : table) names.push_back(spec.name);
  CHECK(names == std::vector<std::string>{"WAL archive",
                                          "PostgreSQL",
                                          "superuser or standard user with backup privileges",
                                          "incremental backup privileges",
                                          "PostgreSQL streaming",
                                          "wal_level",
                                          "max_wal_senders",
                                          "replication slot",
                                          "directories",
                                          "repository",
                                          "primary repository",
                                          "retention policy settings",
                                          "backup maximum age",
                                          "backup minimum size",
                                          "wal size",
                                          "failed backups",
                                          "minimum redundancy requirements",
                                          "systemid coherence",
                                          "timeline",
                                          "receive-wal running",
                                          "WAL archive continuity",
                                          "archiver errors"});
  for (size_t i = 0; i < table.size(); ++i)
    for (size_t j = i + 1; j < table.size(); ++j) CHECK(check_key(table[i].name) != check_key(table[j].name));
}

TEST_CASE("check console output has a header per server and one line per check", "[check]") {
  std::string text = render_text({server("main", true, {ok("PostgreSQL"), bad("wal_level", "set it")}),
                                  server("old", false, {bad("PostgreSQL", "down")})});
  CHECK(text ==
        "Server main:\n\tPostgreSQL: OK\n\twal_level: FAILED (set it)\n"
        "Server old (inactive):\n\tPostgreSQL: FAILED (down)\n");
}

TEST_CASE("check --nagios summarises several servers like Barman", "[check]") {
  SECTION("all good") {
    auto n = render_nagios({server("a", true, {ok("PostgreSQL")}), server("b", true, {ok("PostgreSQL")})});
    CHECK(n.exit_code == 0);
    CHECK(n.text == "CELLAR OK - Ready to serve the backup for 2 servers * a * b|\n");
  }
  SECTION("one active server failing among two") {
    auto n = render_nagios({server("a", true, {ok("PostgreSQL")}),
                            server("b", true, {bad("PostgreSQL", "down"), bad("wal_level", "raise it")})});
    CHECK(n.exit_code == 2);
    CHECK(n.text ==
          "CELLAR CRITICAL - 1 server out of 2 have issues * b FAILED: PostgreSQL, wal_level|\n"
          "b.PostgreSQL: FAILED (down)\nb.wal_level: FAILED (raise it)\n");
  }
  SECTION("only inactive servers failing") {
    auto n = render_nagios({server("a", true, {ok("PostgreSQL")}), server("b", true, {ok("PostgreSQL")}),
                            server("c", false, {bad("PostgreSQL", "down")})});
    CHECK(n.exit_code == 0);
    CHECK(n.text == "CELLAR OK - Ready to serve the backup for 2 servers * a * b * IGNORING: c|\n");
  }
  SECTION("no server") { CHECK(render_nagios({}).text == "CELLAR OK - No server configured\n"); }
  SECTION("perfdata follows the bar") {
    auto s = server("a", true, {ok("PostgreSQL")});
    s.perfdata = {"a=10B", "a_wals=0B"};
    CHECK(render_nagios({s}).text == "CELLAR OK - Ready to serve the backup for a|a=10B a_wals=0B\n");
  }
  CHECK(nagios_unknown("unknown server \"x\"").exit_code == 3);
}

TEST_CASE("check JSON has status and hint for every check", "[check]") {
  Json doc = render_json({server("main", true, {ok("PostgreSQL"), bad("wal_level", "set it")})});
  CHECK(doc.dump(-1) ==
        R"({"main":{"postgresql":{"status":"OK","hint":""},"wal_level":{"status":"FAILED","hint":"set it"}}})");
}
