// Client holds end to end (SPEC §9): `cellar hold` exits and the hold stays;
// delete, retention, backup and cron respect it; release, holds and locks
// show and end it. File backend here; the etcd backend runs the same
// commands in tests/locks/etcd_cli_test.cpp.
#include <catch2/catch.hpp>

#include "common/fs.h"
#include "common/json.h"
#include "cron/cron_support.h"

using namespace cellar;
using namespace cellar::test;

namespace {

constexpr const char* kOld = "20260101T000000";
constexpr const char* kMid = "20260102T000000";
constexpr const char* kNew = "20260103T000000";

bool backup_exists(const CellarEnv& env, const char* id) { return path_exists(env.server_dir("main") + "/base/" + id); }

void three_backups(CellarEnv& env, const std::string& extra) {
  env.add_server("main", "host=/nonexistent port=1 user=postgres", "streaming_archiver = false\n" + extra);
  fabricate_backup(env, "main", kOld, "DONE", segment(2), segment(2));
  fabricate_backup(env, "main", kMid, "DONE", segment(4), segment(4));
  fabricate_backup(env, "main", kNew, "DONE", segment(6), segment(6));
  std::vector<std::string> all;
  for (uint64_t s = 1; s <= 7; ++s) all.push_back(segment(s));
  fabricate_wals(env, "main", all);
}

}  // namespace

TEST_CASE("a backup-id hold outlives the hold command and keeps the backup from delete and retention", "[cron]") {
  CellarEnv env;
  three_backups(env, "retention_policy = \"REDUNDANCY 1\"");
  auto held = env.run({"hold", "backup-id", "main", kOld, "--client", "auditors", "--reason", "copying to tape"});
  INFO(held.out << held.err);
  REQUIRE(held.exit_code == 0);
  // The hold command has exited: the hold is still there.
  auto del = env.run({"delete", "main", kOld});
  CHECK(del.exit_code == 3);
  CHECK(contains(del.err, "held by client 'auditors' since "));
  CHECK(contains(del.err, ": copying to tape"));
  CHECK(backup_exists(env, kOld));
  // Retention removes the other obsolete backup and skips the held one.
  auto cron = env.run({"cron"});
  INFO(cron.out << cron.err);
  CHECK(cron.exit_code == 0);
  CHECK(backup_exists(env, kOld));
  CHECK_FALSE(backup_exists(env, kMid));
  CHECK(backup_exists(env, kNew));
  // Released, the next cron applies retention to it too.
  REQUIRE(env.run({"release", "backup-id", "main", kOld, "--client", "auditors"}).exit_code == 0);
  CHECK(env.run({"cron"}).exit_code == 0);
  CHECK_FALSE(backup_exists(env, kOld));
  CHECK(backup_exists(env, kNew));
}

TEST_CASE("a backup hold is a maintenance window: backup is busy naming the client and cron says so in one line",
          "[cron]") {
  CellarEnv env;
  three_backups(env, "backup_schedule = \"1 HOURS\"");
  REQUIRE(
      env.run({"hold", "backup", "main", "--client", "dba", "--reason", "major upgrade", "--ttl", "4h"}).exit_code ==
      0);
  auto backup = env.run({"backup", "main"});
  CHECK(backup.exit_code == 3);
  CHECK(contains(backup.err, "ERROR: another backup is running for server 'main' (held by client 'dba' since "));
  CHECK(contains(backup.err, "cellar release backup main --client dba"));
  auto cron = env.run({"cron"});
  INFO(cron.out << cron.err);
  CHECK(cron.exit_code == 0);
  CHECK(count_of(cron.out, "scheduled backups of server 'main' are held by client 'dba'") == 1);
  CHECK_FALSE(contains(cron.out, "Starting scheduled backup"));
}

TEST_CASE("hold, release and holds give gocept.lockd's answers and SPEC exit codes", "[cron]") {
  CellarEnv env;
  env.add_server("main", "host=/nonexistent port=1 user=postgres", "streaming_archiver = false");
  REQUIRE(env.run({"hold", "backup", "main", "--client", "client1", "--ttl", "30min"}).exit_code == 0);
  auto second = env.run({"hold", "backup", "main", "--client", "client2"});
  CHECK(second.exit_code == 3);
  CHECK(contains(second.err, "ERROR: resource already held by 'client1'"));
  auto wrong = env.run({"release", "backup", "main", "--client", "client2"});
  CHECK(wrong.exit_code == 1);
  CHECK(contains(wrong.err, "ERROR: resource held by 'client1' cannot be released by 'client2'"));
  auto listed = env.run({"--format", "json", "holds", "main"});
  REQUIRE(listed.exit_code == 0);
  auto doc = Json::parse(listed.out);
  REQUIRE(doc);
  REQUIRE(doc->as_array().size() == 1);
  const Json& h = doc->as_array()[0];
  CHECK(h.find("client")->as_string() == "client1");
  CHECK(h.find("kind")->as_string() == "backup");
  CHECK(h.find("server")->as_string() == "main");
  CHECK(h.find("backup_id")->is_null());
  CHECK(h.find("expires")->is_string());
  auto locks = env.run({"--format", "json", "locks", "main"});
  REQUIRE(locks.exit_code == 0);
  CHECK(contains(locks.out, "\"client\": \"client1\""));
  REQUIRE(env.run({"release", "backup", "main", "--client", "client1"}).exit_code == 0);
  auto free = env.run({"release", "backup", "main", "--client", "client1"});
  CHECK(free.exit_code == 1);
  CHECK(contains(free.err, "ERROR: resource not held"));
  CHECK(env.run({"hold", "backup", "nosuch", "--client", "x"}).exit_code == 2);
  CHECK(env.run({"hold", "bogus", "main", "--client", "x"}).exit_code == 2);
  CHECK(env.run({"hold", "backup", "main"}).exit_code == 2);
  CHECK(env.run({"hold", "backup", "main", "--client", "x", "--ttl", "soon"}).exit_code == 2);
  CHECK(env.run({"hold", "--help"}).exit_code == 0);
  CHECK(env.run({"holds", "--bogus"}).exit_code == 2);
}
