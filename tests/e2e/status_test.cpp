// `cellar status` end to end: a server with receive-wal started by cron,
// archived WAL and fabricated backups, as text and JSON.
#include <catch2/catch.hpp>
#include <regex>

#include "common/json.h"
#include "cron/cron_support.h"
#include "support/cellar_env.h"
#include "support/pg_server.h"
#include "wal/switch_wal.h"

using namespace cellar;
using namespace cellar::test;

namespace {
bool matches(const std::string& text, const std::string& pattern) {
  return std::regex_search(text, std::regex(pattern));
}
}  // namespace

TEST_CASE("status shows PostgreSQL, the slot, receive-wal with its lag, backups and the WAL archive", "[e2e][status]") {
  PgServer& pg = shared_pg();
  CellarEnv env;
  env.add_server("main", pg.conninfo(),
                 "create_slot = \"auto\"\nslot_name = \"status_slot\"\ndescription = \"db one\"");
  ReceiverGuard guard(env, {"main"}, pg.conninfo(), {"status_slot"});
  std::string closed = start_streaming(env, "main");
  fabricate_backup(env, "main", "20260101T000000", "DONE", closed, closed);
  fabricate_backup(env, "main", "20260102T000000", "FAILED", closed, closed);
  fabricate_backup(env, "main", "20260103T000000", "DONE", closed, closed);
  pid_t pid = *receiver_pid(env, "main");

  RunResult r = env.run({"status", "main"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.rfind("Server main:\n", 0) == 0);
  CHECK(contains(r.out, "\tDescription: db one\n"));
  CHECK(matches(r.out, "\tPostgreSQL version: 1[0-9]\\.[0-9]+\n"));
  CHECK(matches(r.out, "\tSystem id: [0-9]{10,}\n"));
  CHECK(matches(r.out, "\tCurrent LSN: [0-9A-F]+/[0-9A-F]+\n"));
  CHECK(matches(r.out, "\tCurrent WAL segment: [0-9A-F]{24}\n"));
  CHECK(matches(r.out, "\tReplication slot: status_slot \\(active, restart_lsn [0-9A-F]+/[0-9A-F]+\\)\n"));
  CHECK(matches(r.out, "\treceive-wal: running \\(PID " + std::to_string(pid) + ", uptime [0-9]+ s\\)\n"));
  CHECK(matches(r.out, "\tLast flushed LSN: [0-9A-F]+/[0-9A-F]+\n"));
  CHECK(matches(r.out, "\tLag: [0-9]+ bytes\n"));
  CHECK(contains(r.out, "\tNo. of available backups: 2\n"));
  CHECK(contains(r.out, "\tFirst available backup: 20260101T000000\n"));
  CHECK(contains(r.out, "\tLast available backup: 20260103T000000\n"));
  CHECK(contains(r.out, "\tFailed backups: 1\n"));
  CHECK(matches(r.out, "\tWAL archive: [1-9][0-9]* files, [0-9.]+ [KMG]?i?B, last [0-9A-F]{24}\n"));

  RunResult json = env.run({"-f", "json", "status", "main"});
  CHECK(json.exit_code == 0);
  auto doc = Json::parse(json.out);
  REQUIRE(doc);
  const Json* s = doc->find("main");
  REQUIRE(s);
  CHECK(s->find("receive_wal_pid")->as_int() == pid);
  CHECK(s->find("lag_bytes")->is_int());
  CHECK(s->find("slot_active")->as_bool());
  CHECK(s->find("backups")->as_int() == 2);
  CHECK(s->find("failed_backups")->as_int() == 1);
  CHECK(s->find("wal_files")->as_int() >= 1);
  CHECK(s->find("last_backup")->as_string() == "20260103T000000");
  CHECK(s->find("systemid")->is_string());
}

TEST_CASE("status of a server whose PostgreSQL is unreachable says why and still shows the catalogue",
          "[e2e][status]") {
  CellarEnv env;
  env.add_server("main", "host=/nonexistent port=1 user=postgres");
  fabricate_wals(env, "main", {segment(1), segment(2)});
  RunResult r = env.run({"status", "main"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "\tPostgreSQL: unreachable (could not connect to PostgreSQL"));
  CHECK(contains(r.out, "\tPostgreSQL version: -\n"));
  CHECK(contains(r.out, "\treceive-wal: not running\n"));
  CHECK(contains(r.out, "\tWAL archive: 2 files, 200 B, last " + segment(2) + "\n"));
  CHECK(env.run({"status", "nope"}).exit_code == 2);
}
