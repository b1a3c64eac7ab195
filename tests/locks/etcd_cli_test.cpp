// The lock commands with lock_backend = "etcd", end to end against the
// harness's real etcd: hold / release / holds / locks / lock give the same
// answers as with files (tests/cron/holds_test.cpp), with the host added.
#include <catch2/catch.hpp>

#include "common/json.h"
#include "support/cellar_env.h"
#include "support/etcd_server.h"

using namespace cellar;
using namespace cellar::test;

namespace {

struct EtcdEnv {
  EtcdServer& etcd = shared_etcd();
  std::string prefix = etcd.fresh_prefix();
  CellarEnv env;
  EtcdEnv() {
    env.add_global("lock_backend = \"etcd\"\netcd_endpoints = [\"" + etcd.endpoint() + "\"]\netcd_prefix = \"" +
                   prefix + "\"");
    env.add_server("main", "host=/nonexistent port=1 user=postgres", "streaming_archiver = false");
    env.set_env({"CELLAR_HOSTNAME=db-backup-1"});
  }
};

bool has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

const Json* entry_of(const Json& doc, const std::string& file) {
  for (const Json& e : doc.as_array())
    if (e.find("file")->as_string() == file) return &e;
  return nullptr;
}

}  // namespace

TEST_CASE("with etcd, hold, release and holds give the file backend's answers and exit codes", "[locks][etcd]") {
  EtcdEnv e;
  auto taken = e.env.run({"hold", "backup", "main", "--client", "client1", "--reason", "upgrade"});
  INFO(taken.out << taken.err);
  REQUIRE(taken.exit_code == 0);
  auto second = e.env.run({"hold", "backup", "main", "--client", "client2"});
  CHECK(second.exit_code == 3);
  CHECK(has(second.err, "ERROR: resource already held by 'client1'"));
  auto busy = e.env.run({"lock", "backup", "main", "--", "true"});
  CHECK(busy.exit_code == 3);
  CHECK(has(busy.err, "another backup is running for server 'main'"));
  CHECK(has(busy.err, "client 'client1'"));
  auto wrong = e.env.run({"release", "backup", "main", "--client", "client2"});
  CHECK(wrong.exit_code == 1);
  CHECK(has(wrong.err, "ERROR: resource held by 'client1' cannot be released by 'client2'"));
  auto holds = e.env.run({"--format", "json", "holds"});
  REQUIRE(holds.exit_code == 0);
  auto doc = Json::parse(holds.out);
  REQUIRE(doc);
  REQUIRE(doc->as_array().size() == 1);
  CHECK(doc->as_array()[0].find("client")->as_string() == "client1");
  CHECK(doc->as_array()[0].find("reason")->as_string() == "upgrade");
  CHECK(e.env.run({"release", "backup", "main", "--client", "client1"}).exit_code == 0);
  auto free = e.env.run({"release", "backup", "main", "--client", "client1"});
  CHECK(free.exit_code == 1);
  CHECK(has(free.err, "ERROR: resource not held"));
  CHECK(e.env.run({"lock", "backup", "main", "--", "true"}).exit_code == 0);
  CHECK(e.env.run({"hold", "backup", "nosuch", "--client", "x"}).exit_code == 2);
  CHECK(e.env.run({"hold", "nokind", "main", "--client", "x"}).exit_code == 2);
}

TEST_CASE("with etcd, locks lists held keys with host and command, holds with client, and cleans expired holds",
          "[locks][etcd]") {
  EtcdEnv e;
  // A secret on the command line (here sh's $0) is masked in what etcd stores for every host to see.
  Child holder = e.env.spawn_cellar(
      {"lock", "archive-wal", "main", "--", "/bin/sh", "-c", "echo ready; read x", "password=hunter2"});
  REQUIRE(holder.read_line() == "ready");
  REQUIRE(e.env.run({"hold", "backup-id", "main", "20261201T020000", "--client", "auditors", "--ttl", "1"}).exit_code ==
          0);
  auto listed = e.env.run({"--format", "json", "locks", "main"});
  INFO(listed.out << listed.err);
  REQUIRE(listed.exit_code == 0);
  auto doc = Json::parse(listed.out);
  REQUIRE(doc);
  const Json* archive = entry_of(*doc, "main-archive-wal");
  REQUIRE(archive);
  CHECK(archive->find("state")->as_string() == "held");
  CHECK(archive->find("host")->as_string() == "db-backup-1");
  CHECK(archive->find("pid")->as_int() > 0);
  CHECK(has(archive->find("command")->as_string(), "lock archive-wal main"));
  CHECK_FALSE(has(archive->find("command")->as_string(), "hunter2"));
  const Json* kept = entry_of(*doc, "main-20261201T020000");
  REQUIRE(kept);
  CHECK(kept->find("kind")->as_string() == "backup-id");
  CHECK(kept->find("client")->as_string() == "auditors");
  // Past its TTL the hold is stale: --stale shows it, --clean removes it, the held lock stays.
  bool expired = wait_until(
      [&] {
        auto r = e.env.run({"--format", "json", "locks", "--stale", "main"});
        return r.exit_code == 0 && has(r.out, "main-20261201T020000");
      },
      10);
  REQUIRE(expired);
  auto cleaned = e.env.run({"locks", "--clean", "main"});
  INFO(cleaned.out << cleaned.err);
  CHECK(cleaned.exit_code == 0);
  CHECK(has(cleaned.out, "removed main-20261201T020000"));
  auto after = e.env.run({"--format", "json", "locks", "main"});
  auto again = Json::parse(after.out);
  REQUIRE(again);
  CHECK(entry_of(*again, "main-archive-wal"));
  CHECK_FALSE(entry_of(*again, "main-20261201T020000"));
  holder.write_line("done");
  CHECK(holder.wait() == 0);
  auto gone = Json::parse(e.env.run({"--format", "json", "locks", "main"}).out);
  REQUIRE(gone);
  CHECK(gone->as_array().empty());
}
