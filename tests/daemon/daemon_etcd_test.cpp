// `cellar daemon` with lock_backend = "etcd": two daemons on two "hosts"
// (own home and lock directory, own CELLAR_HOSTNAME, one real etcd) stream
// each server from one host only, the other showing the lock as held
// elsewhere; and `daemon lock` takes the same etcd hold as `cellar hold`.
#include <signal.h>

#include <catch2/catch.hpp>

#include "common/process.h"
#include "cron/cron_support.h"
#include "daemon/daemon_support.h"
#include "support/etcd_server.h"

using namespace cellar;
using namespace cellar::test;

namespace {

const std::string kNowhere = "host=127.0.0.1 port=1 dbname=postgres connect_timeout=1";

std::string state_of(const CellarEnv& env) {
  Json r = receiver_view(env, "main");
  const Json* s = r.is_object() ? r.find("state") : nullptr;
  return s && s->is_string() ? s->as_string() : "";
}

}  // namespace

TEST_CASE("two daemons sharing etcd run one receive-wal; the other host shows it elsewhere and takes over after a kill",
          "[daemon][etcd]") {
  EtcdServer& etcd = shared_etcd();
  std::string prefix = etcd.fresh_prefix();
  CellarEnv a, b;
  for (auto* env : {&a, &b}) {
    env->add_global("lock_backend = \"etcd\"\netcd_endpoints = \"" + etcd.endpoint() + "\"\netcd_prefix = \"" + prefix +
                    "\"\nlock_ttl = \"3s\"\ndaemon_lockable = [\"backup:*\"]");
    env->add_server("main", kNowhere, "receive_wal_backoff_limit = 1");
  }
  a.set_env({"CELLAR_HOSTNAME=host-a"});
  b.set_env({"CELLAR_HOSTNAME=host-b"});
  DaemonGuard guard_a(a), guard_b(b);
  REQUIRE(a.run({"daemon", "start"}).exit_code == 0);
  REQUIRE(wait_until([&] { return state_of(a) == "running"; }, 15));
  pid_t on_a = *shown_receiver_pid(a, "main");
  // Its child holds the etcd lock before b starts (else b could win it).
  REQUIRE(wait_until(
      [&] {
        auto locks = a.run({"--format", "json", "locks", "main"});
        return contains(locks.out, "\"pid\": " + std::to_string(on_a)) ||
               contains(locks.out, "\"pid\":" + std::to_string(on_a));
      },
      15));
  REQUIRE(b.run({"daemon", "start"}).exit_code == 0);
  REQUIRE(wait_until([&] { return state_of(b) == "elsewhere"; }, 15));
  Json view = receiver_view(b, "main");
  INFO(view.dump());
  CHECK(view.find("holder")->as_string().find("host-a") != std::string::npos);

  // The lock service writes an etcd hold, visible from the other host.
  auto set = a.run({"daemon", "lock", "backup", "main", "--client", "dba"});
  INFO(set.err);
  CHECK(set.out == "lock set\n");
  CHECK(contains(b.run({"holds", "main"}).out, "dba"));
  CHECK(b.run({"daemon", "lock", "backup", "main", "--client", "ops"}).exit_code == 1);
  CHECK(b.run({"daemon", "unlock", "backup", "main", "--client", "dba"}).out == "lock released\n");

  // Host a dies (its daemon and receiver SIGKILLed): b streams once a's lease ends.
  ::kill(*daemon_pid_in_file(a), SIGKILL);
  ::kill(on_a, SIGKILL);
  bool took_over = wait_until([&] { return state_of(b) == "running"; }, 20);
  INFO(receiver_view(b, "main").dump());
  CHECK(took_over);
  ReceiverGuard receivers_b(b, {"main"});
}
