// Client holds in the etcd lock backend against a real etcd: the SPEC §9
// messages, renewal, expiry, survival past the process that took them, and
// `cellar locks` listing and cleaning, with odd values planted beside them.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <iostream>
#include <thread>

#include "etcd/client.h"
#include "locks/etcd_lock_manager.h"
#include "locks/etcd_records.h"
#include "support/etcd_server.h"
#include "support/helper_mode.h"

namespace cellar::locks {
namespace {

using std::chrono::seconds;
using test::shared_etcd;

const LockName kBackup{LockKind::backup, "main", ""};
const LockName kCron{LockKind::cron, "main", ""};
const LockName kXlogdb{LockKind::xlogdb, "main", ""};
const LockName kReceive{LockKind::receive_wal, "main", ""};

int64_t unix_now() { return static_cast<int64_t>(std::time(nullptr)); }

EtcdOptions options_for(const std::string& endpoint, const std::string& prefix) {
  EtcdOptions o;
  o.endpoints = {endpoint};
  o.prefix = prefix;
  return o;
}

struct Site {
  std::string prefix = shared_etcd().fresh_prefix();
  std::unique_ptr<LockManager> manager() const {
    return make_etcd_lock_manager(options_for(shared_etcd().endpoint(), prefix));
  }
  etcd::Client client{shared_etcd().client_options()};
  // A hold of `client_name` that expired a minute ago, written as the backend would.
  void plant_expired_hold(const LockName& name, const std::string& client_name) {
    Owner o;
    o.host = "elsewhere";
    o.client = client_name;
    o.since = unix_now() - 120;
    o.expires = unix_now() - 60;
    REQUIRE(client.create(prefix + make_resource_name(name), make_hold_record(o)));
  }
};

AcquireRequest quiet() {
  AcquireRequest r;
  r.on_lost = [] {};
  return r;
}

HoldRequest hold_of(const LockName& name, const std::string& client, std::optional<seconds> ttl = std::nullopt,
                    const std::string& reason = "") {
  return {name, client, reason, ttl};
}

// Helper: takes a hold on main-backup for client args[2] and exits.
int take_hold_helper(const std::vector<std::string>& args) {
  auto manager = make_etcd_lock_manager(options_for(args[0], args[1]));
  auto outcome = manager->hold(hold_of(kBackup, args[2], std::nullopt, "upgrade"));
  std::cout << (!outcome                         ? outcome.status().message()
                : *outcome == HoldOutcome::taken ? "taken"
                                                 : "renewed")
            << std::endl;
  return outcome ? 0 : 1;
}
CELLAR_TEST_HELPER("etcd-take-hold", take_hold_helper);

}  // namespace

TEST_CASE("an etcd hold keeps others out with the SPEC's messages and is released only by its client",
          "[locks][etcd]") {
  Site site;
  auto m = site.manager();
  auto taken = m->hold(hold_of(kBackup, "dba", std::nullopt, "upgrade"));
  REQUIRE(taken);
  CHECK(*taken == HoldOutcome::taken);
  auto owner = m->owner(kBackup);
  REQUIRE((owner && *owner));
  CHECK((*owner)->client == "dba");
  CHECK((*owner)->reason == "upgrade");
  CHECK_FALSE((*owner)->expires);

  auto other = m->hold(hold_of(kBackup, "client2"));
  CHECK(other.status().code() == ErrorCode::busy);
  CHECK(other.status().message() == "resource already held by 'dba'");
  auto process = m->acquire(kBackup, quiet());
  CHECK(process.status().code() == ErrorCode::busy);
  CHECK(process.status().message() ==
        "another backup is running for server 'main' (lock main-backup held by client 'dba' since " +
            utc_text((*owner)->since) + ": upgrade)");
  CHECK(process.status().hint() == "client 'dba' holds it until released; see 'cellar holds main'");

  CHECK(m->release_hold(kBackup, "client2").message() == "resource held by 'dba' cannot be released by 'client2'");
  CHECK(m->release_hold(kBackup, "dba"));
  const Status twice = m->release_hold(kBackup, "dba");
  CHECK(twice.code() == ErrorCode::failed);
  CHECK(twice.message() == "resource not held");

  auto held = m->acquire(kBackup, quiet());
  REQUIRE(held);
  CHECK(m->hold(hold_of(kBackup, "dba")).status().message() ==
        "resource already held by PID " + std::to_string(::getpid()) + " on host " + (*owner)->host);
  CHECK(m->release_hold(kBackup, "dba").message() == "resource held by PID " + std::to_string(::getpid()) +
                                                         " on host " + (*owner)->host + " cannot be released by 'dba'");
}

TEST_CASE("an etcd hold taken again by its client is renewed: new reason and TTL, same token and start",
          "[locks][etcd]") {
  Site site;
  auto m = site.manager();
  REQUIRE(m->hold(hold_of(kBackup, "dba", std::nullopt, "first")));
  auto before = m->owner(kBackup);
  REQUIRE((before && *before));
  auto renewed = m->hold(hold_of(kBackup, "dba", seconds(600), "second"));
  REQUIRE(renewed);
  CHECK(*renewed == HoldOutcome::renewed);
  auto holds = m->holds("main");
  REQUIRE(holds);
  REQUIRE(holds->size() == 1);
  const Hold& h = holds->front();
  CHECK(h.name == kBackup);
  CHECK(h.owner.client == "dba");
  CHECK(h.owner.reason == "second");
  CHECK(h.owner.token == (*before)->token);
  CHECK(h.owner.since == (*before)->since);
  REQUIRE(h.owner.expires);
  CHECK(*h.owner.expires >= unix_now() + 590);
  CHECK_FALSE(h.expired);
  auto elsewhere = m->holds("other");
  REQUIRE(elsewhere);
  CHECK(elsewhere->empty());
}

TEST_CASE("an etcd hold past its TTL is free: owner is none, acquire and hold replace it", "[locks][etcd]") {
  Site site;
  auto m = site.manager();
  REQUIRE(m->hold(hold_of(kBackup, "dba", seconds(1))));
  // The hold's end is in whole seconds: within two it is over.
  bool freed = false;
  for (int i = 0; i < 60 && !freed; ++i) {
    auto owner = m->owner(kBackup);
    REQUIRE(owner);
    freed = !*owner;
    if (!freed) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(freed);
  auto holds = m->holds("");
  REQUIRE((holds && holds->size() == 1));
  CHECK(holds->front().expired);
  auto held = m->acquire(kBackup, quiet());
  REQUIRE(held);
  (*held)->release();

  site.plant_expired_hold(kCron, "old");
  auto replaced = m->hold(hold_of(kCron, "new"));
  REQUIRE(replaced);
  CHECK(*replaced == HoldOutcome::taken);
  site.plant_expired_hold(kXlogdb, "old");
  const Status gone = m->release_hold(kXlogdb, "old");
  CHECK(gone.message() == "resource not held");
  auto none = m->owner(kXlogdb);
  REQUIRE(none);
  CHECK_FALSE(*none);
}

TEST_CASE("an etcd hold survives the process that took it", "[locks][etcd]") {
  Site site;
  auto child = test::spawn_helper("etcd-take-hold", {shared_etcd().endpoint(), site.prefix, "dba"});
  CHECK(child.read_line() == "taken");
  REQUIRE(child.wait() == 0);
  auto m = site.manager();
  auto holds = m->holds("main");
  REQUIRE(holds);
  REQUIRE(holds->size() == 1);
  CHECK(holds->front().owner.client == "dba");
  CHECK(holds->front().owner.reason == "upgrade");
  auto busy = m->acquire(kBackup, quiet());
  CHECK(busy.status().code() == ErrorCode::busy);
  CHECK(busy.status().message().find("held by client 'dba' since ") != std::string::npos);
  CHECK(m->release_hold(kBackup, "dba"));
}

TEST_CASE("etcd list shows locks, holds, an expired hold and odd values; clean removes only the expired hold",
          "[locks][etcd]") {
  Site site;
  auto m = site.manager();
  REQUIRE(site.client.create(site.prefix + "main-backup", "not json {\nsecond line"));
  REQUIRE(site.client.create(site.prefix + "no-such/resource", "x"));
  site.plant_expired_hold(kCron, "old");
  auto held = m->acquire(kXlogdb, quiet());
  REQUIRE(held);
  REQUIRE(m->hold(hold_of(kReceive, "dba", seconds(600), "maintenance")));

  auto entries = m->list({});
  REQUIRE(entries);
  REQUIRE(entries->size() == 4);
  const LockEntry& odd = (*entries)[0];
  CHECK(odd.file == "main-backup");
  CHECK(odd.kind() == "backup");
  CHECK(odd.held);
  CHECK(odd.content == "not json {");
  const LockEntry& stale = (*entries)[1];
  CHECK(stale.file == "main-cron");
  CHECK(stale.client == "old");
  CHECK(stale.expired);
  CHECK_FALSE(stale.held);
  CHECK(stale.age_seconds >= 120);
  const LockEntry& hold = (*entries)[2];
  CHECK(hold.file == "main-receive-wal");
  CHECK(hold.held);
  CHECK(hold.client == "dba");
  CHECK(hold.reason == "maintenance");
  CHECK(hold.expires);
  const LockEntry& process = (*entries)[3];
  CHECK(process.file == "main-xlogdb");
  CHECK(process.held);
  CHECK(process.pid == ::getpid());
  CHECK_FALSE(process.host.empty());

  auto all = m->list({"", false, true, true});
  REQUIRE((all && all->size() == 5));
  CHECK((*all)[4].file == "no-such/resource");
  CHECK((*all)[4].kind() == "unknown");
  auto stale_only = m->list({"", true, false, true});
  REQUIRE((stale_only && stale_only->size() == 1));
  CHECK(stale_only->front().file == "main-cron");
  auto other_server = m->list({"other", false, true, true});
  REQUIRE(other_server);
  CHECK(other_server->empty());

  auto cleaned = m->clean(*all);
  REQUIRE(cleaned.size() == 1);
  CHECK(cleaned[0].file == "main-cron");
  CHECK(cleaned[0].outcome == CleanOutcome::removed);
  auto after = m->list({"", false, true, true});
  REQUIRE((after && after->size() == 4));
  auto cleaned_again = m->clean(*all);  // the same stale listing: the key is gone now
  REQUIRE(cleaned_again.size() == 1);
  CHECK(cleaned_again[0].outcome == CleanOutcome::gone);

  auto busy = m->acquire(kBackup, quiet());
  CHECK(busy.status().code() == ErrorCode::busy);
  CHECK(busy.status().message() ==
        "another backup is running for server 'main' (lock main-backup held by an unreadable value \"not json {\")");
}

}  // namespace cellar::locks
