// locker's service on the daemon's socket: `daemon lock` / `daemon unlock`
// within daemon_lockable, its plain answers and exit codes, --wait, and a
// waiting client that hangs up; the holds are `cellar hold`'s.
#include <signal.h>

#include <catch2/catch.hpp>

#include "common/fs.h"
#include "cron/cron_support.h"
#include "daemon/daemon_support.h"

using namespace cellar;
using namespace cellar::test;

namespace {

const std::string kNowhere = "host=127.0.0.1 port=1 dbname=postgres connect_timeout=1";

void lock_env(CellarEnv& env) {
  env.add_global("daemon_lockable = [\"backup:main\", \"backup-id:*\"]");
  env.add_server("main", kNowhere, "streaming_archiver = false");
  env.add_server("other", kNowhere, "streaming_archiver = false");
}

void start_daemon(const CellarEnv& env) {
  auto r = env.run({"daemon", "start"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
}

}  // namespace

TEST_CASE("daemon lock and unlock answer like locker, exit 0 or 1, and take cellar hold's lock", "[daemon]") {
  CellarEnv env;
  lock_env(env);
  DaemonGuard guard(env);
  start_daemon(env);

  auto set = env.run({"daemon", "lock", "backup", "main", "--client", "dba", "--reason", "upgrade"});
  INFO(set.out << set.err);
  CHECK(set.exit_code == 0);
  CHECK(set.out == "lock set\n");
  auto again = env.run({"daemon", "lock", "backup", "main", "--client", "dba"});
  CHECK(again.exit_code == 0);
  CHECK(again.out == "already locked by you\n");

  // The same lock as a hold: listed, and a backup is busy.
  auto holds = env.run({"holds", "main"});
  CHECK(contains(holds.out, "dba"));
  auto backup = env.run({"backup", "main"});
  CHECK(backup.exit_code == 3);
  CHECK(contains(backup.err, "client 'dba'"));

  auto other_client = env.run({"daemon", "lock", "backup", "main", "--client", "ops"});
  CHECK(other_client.exit_code == 1);
  CHECK(contains(other_client.err, "already held by 'dba'"));
  auto not_allowed = env.run({"daemon", "lock", "backup", "other", "--client", "dba"});
  CHECK(not_allowed.exit_code == 1);
  CHECK(contains(not_allowed.err, "\"backup:other\" is not in daemon_lockable"));
  for (const char* bad : {"1e300", "-5", "\"10\""}) {
    INFO(bad);
    CHECK(contains(ask_raw(socket_path(env), std::string("{\"command\":\"lock\",\"kind\":\"backup\",\"server\":"
                                                         "\"main\",\"client\":\"dba\",\"wait\":true,\"timeout\":") +
                                                 bad + "}\n"),
                   "timeout must be whole seconds"));
  }
  auto no_client = env.run({"daemon", "lock", "backup", "main"});
  CHECK(no_client.exit_code == 1);
  CHECK(contains(no_client.err, "needs a client name"));

  auto released = env.run({"daemon", "unlock", "backup", "main", "--client", "dba"});
  CHECK(released.exit_code == 0);
  CHECK(released.out == "lock released\n");
  auto nothing = env.run({"daemon", "unlock", "backup", "main", "--client", "dba"});
  CHECK(nothing.exit_code == 1);
  CHECK(nothing.out == "not locked\n");
  CHECK(contains(env.run({"holds"}).out, "no holds"));

  // A backup id lock through the same door (the "backup-id:*" pattern).
  auto kept = env.run({"daemon", "lock", "backup-id", "other", "20261201T000000", "--client", "keeper"});
  INFO(kept.err);
  CHECK(kept.exit_code == 0);
  CHECK(contains(env.run({"holds", "other"}).out, "keeper"));
}

TEST_CASE("daemon lock --wait gets the lock once it is released, and --timeout gives up with exit 1", "[daemon]") {
  CellarEnv env;
  lock_env(env);
  DaemonGuard guard(env);
  start_daemon(env);
  REQUIRE(env.run({"hold", "backup", "main", "--client", "dba"}).exit_code == 0);

  auto timed_out = env.run({"daemon", "lock", "backup", "main", "--client", "ops", "--wait", "--timeout", "1"});
  CHECK(timed_out.exit_code == 1);
  CHECK(contains(timed_out.err, "already held by 'dba'"));

  Child waiting = env.spawn_cellar({"daemon", "lock", "backup", "main", "--client", "ops", "--wait"});
  REQUIRE(wait_until(
      [&] { return contains(read_text(env.home() + "/daemon.log"), "client 'ops': resource already held by 'dba'"); },
      10));
  REQUIRE(env.run({"release", "backup", "main", "--client", "dba"}).exit_code == 0);
  CHECK(waiting.read_line() == "lock set");
  CHECK(waiting.wait() == 0);
  CHECK(contains(env.run({"holds", "main"}).out, "ops"));
}

TEST_CASE("a waiting client that hangs up leaves no lock behind once the lock frees", "[daemon]") {
  CellarEnv env;
  lock_env(env);
  DaemonGuard guard(env);
  start_daemon(env);
  REQUIRE(env.run({"hold", "backup", "main", "--client", "dba"}).exit_code == 0);

  Child waiting = env.spawn_cellar({"daemon", "lock", "backup", "main", "--client", "quitter", "--wait"});
  const std::string log = env.home() + "/daemon.log";
  REQUIRE(wait_until([&] { return contains(read_text(log), "client 'quitter': resource already held"); }, 10));
  ::kill(waiting.pid(), SIGKILL);
  (void)waiting.wait();
  REQUIRE(wait_until([&] { return contains(read_text(log), "client 'quitter': client gave up waiting"); }, 10));
  REQUIRE(env.run({"release", "backup", "main", "--client", "dba"}).exit_code == 0);
  // Give the daemon turns to (wrongly) retry the dropped request.
  REQUIRE(env.run({"daemon", "status"}).exit_code == 0);
  REQUIRE(env.run({"daemon", "status"}).exit_code == 0);
  CHECK(contains(env.run({"holds"}).out, "no holds"));
  CHECK_FALSE(contains(read_text(log), "client 'quitter': lock set"));
}
