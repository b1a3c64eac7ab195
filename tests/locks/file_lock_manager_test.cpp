// The file lock backend behind the lock-manager interface: fencing counters,
// persisted client holds (gocept.lockd's messages), their expiry, and how
// holds show in listings.
#include "locks/file_lock_manager.h"

#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <ctime>
#include <thread>

#include "common/fs.h"
#include "common/storage.h"
#include "locks/lock_file.h"
#include "locks/typed_lock.h"
#include "support/cellar_env.h"
#include "support/helper_mode.h"
#include "support/run.h"

using namespace cellar;
using namespace cellar::locks;
using cellar::test::spawn_helper;
using cellar::test::TempDir;

namespace {

const LockName kBackup{LockKind::backup, "main", ""};
const LockName kKept{LockKind::backup_id, "main", "20260101T000000"};

HoldRequest hold_of(const LockName& name, const std::string& client, const std::string& reason = "",
                    std::optional<std::chrono::seconds> ttl = std::nullopt) {
  return HoldRequest{name, client, reason, ttl};
}

// A hold file as an earlier cellar (or a clock that moved on) left it.
void plant_hold(const std::string& dir, const LockName& name, const std::string& json) {
  REQUIRE(storage::write_file(storage::root(), join_path(dir, make_hold_file_name(name)), json));
}

}  // namespace

TEST_CASE("fencing tokens increase with every acquisition of a resource, held or released", "[locks]") {
  TempDir dir;
  auto m = make_file_lock_manager(dir.path());
  uint64_t last = 0;
  for (int i = 0; i < 3; ++i) {
    auto held = m->acquire(kBackup, {});
    REQUIRE(held);
    CHECK((*held)->token() > last);
    CHECK((*held)->check_current());
    last = (*held)->token();
  }
  REQUIRE(m->hold(hold_of(kBackup, "dba")));
  REQUIRE(m->release_hold(kBackup, "dba"));
  auto after = m->acquire(kBackup, {});
  REQUIRE(after);
  CHECK((*after)->token() == last + 2);  // the hold took one too
  auto other = m->acquire(kKept, {});
  REQUIRE(other);
  CHECK((*other)->token() == 1);  // counters are per resource
}

TEST_CASE("a lock whose fencing counter moved on behind its back is no longer current", "[locks]") {
  TempDir dir;
  auto m = make_file_lock_manager(dir.path());
  auto held = m->acquire(kBackup, {});
  REQUIRE(held);
  REQUIRE((*held)->check_current());
  // What a successor on a shared lock directory would have done after
  // removing the lock file under a stopped holder.
  std::string token_file = join_path(dir.path(), make_token_file_name(kBackup));
  REQUIRE(storage::write_file(storage::root(), token_file, std::to_string((*held)->token() + 1) + "\n"));
  Status st = (*held)->check_current();
  REQUIRE_FALSE(st);
  CHECK(st.code() == ErrorCode::failed);
  CHECK_THAT(st.message(),
             Catch::Contains("lock main-backup is no longer ours (fencing token " + std::to_string((*held)->token()) +
                             ", current " + std::to_string((*held)->token() + 1) + ")"));
}

TEST_CASE("a client hold makes every acquirer busy, naming the client, since when and the reason", "[locks]") {
  TempDir dir;
  auto m = make_file_lock_manager(dir.path());
  auto taken = m->hold(hold_of(kBackup, "dba", "major upgrade"));
  REQUIRE(taken);
  CHECK(*taken == HoldOutcome::taken);
  auto busy = m->acquire(kBackup, {});
  REQUIRE_FALSE(busy);
  CHECK(busy.status().code() == ErrorCode::busy);
  CHECK_THAT(busy.status().message(),
             Catch::StartsWith("another backup is running for server 'main' (held by client 'dba' since "));
  CHECK_THAT(busy.status().message(), Catch::EndsWith(": major upgrade)"));
  CHECK_THAT(busy.status().hint(), Catch::Contains("cellar release backup main --client dba"));
  // Typed locks see the same.
  CHECK_FALSE(ServerBackupLock::acquire(*m, "main"));
  // Other resources are not affected.
  CHECK(m->acquire(kKept, {}));
  auto owner = m->owner(kBackup);
  REQUIRE(owner);
  REQUIRE(*owner);
  CHECK((*owner)->client == "dba");
  CHECK((*owner)->reason == "major upgrade");
}

TEST_CASE("holds follow gocept.lockd: held by another client, released by another, not held", "[locks]") {
  TempDir dir;
  auto m = make_file_lock_manager(dir.path());
  REQUIRE(m->hold(hold_of(kBackup, "client1")));
  auto second = m->hold(hold_of(kBackup, "client2"));
  REQUIRE_FALSE(second);
  CHECK(second.status().code() == ErrorCode::busy);
  CHECK(second.status().message() == "resource already held by 'client1'");
  auto again = m->hold(hold_of(kBackup, "client1", "still upgrading"));
  REQUIRE(again);
  CHECK(*again == HoldOutcome::renewed);
  Status wrong = m->release_hold(kBackup, "client2");
  CHECK(wrong.code() == ErrorCode::failed);
  CHECK(wrong.message() == "resource held by 'client1' cannot be released by 'client2'");
  CHECK(m->release_hold(kBackup, "client1"));
  Status free = m->release_hold(kBackup, "client1");
  CHECK(free.code() == ErrorCode::failed);
  CHECK(free.message() == "resource not held");
  CHECK(m->acquire(kBackup, {}));
}

TEST_CASE("a hold is refused while a process holds the lock, naming its PID", "[locks]") {
  TempDir dir;
  auto holder = spawn_helper("lock-hold", {dir / ".main-backup.lock"});
  std::string line = holder.read_line();
  REQUIRE(line.rfind("locked ", 0) == 0);
  auto m = make_file_lock_manager(dir.path());
  auto refused = m->hold(hold_of(kBackup, "dba"));
  REQUIRE_FALSE(refused);
  CHECK(refused.status().code() == ErrorCode::busy);
  CHECK(refused.status().message() == "resource already held by PID " + line.substr(7));
  Status release = m->release_hold(kBackup, "dba");
  CHECK(release.code() == ErrorCode::failed);
}

TEST_CASE("a waiting acquirer gets the lock once the client hold is released", "[locks]") {
  TempDir dir;
  auto m = make_file_lock_manager(dir.path());
  REQUIRE(m->hold(hold_of(kBackup, "dba")));
  AcquireRequest wait;
  wait.wait = true;
  wait.timeout = std::chrono::seconds(30);
  std::optional<uint64_t> token;
  std::atomic<bool> finished{false};
  std::thread waiter([&] {
    auto got = m->acquire(kBackup, wait);
    if (got) token = (*got)->token();
    finished = true;
  });
  // The hold wrote no PID into the lock file; the waiter's first flock does:
  // once it shows, the waiter has seen the hold and polls.
  const std::string lock_path = join_path(dir.path(), ".main-backup.lock");
  const std::string our_pid = std::to_string(::getpid()) + "\n";
  bool polling = cellar::test::wait_until(
      [&] {
        auto text = read_file(lock_path);
        return text && *text == our_pid;
      },
      10);
  CHECK(polling);
  CHECK_FALSE(finished);
  REQUIRE(m->release_hold(kBackup, "dba"));
  waiter.join();
  REQUIRE(token);
  CHECK(*token >= 2);
  AcquireRequest short_wait;
  short_wait.wait = true;
  short_wait.timeout = std::chrono::milliseconds(200);
  REQUIRE(m->hold(hold_of(kBackup, "dba")));
  auto timed_out = m->acquire(kBackup, short_wait);
  REQUIRE_FALSE(timed_out);
  CHECK(timed_out.status().code() == ErrorCode::busy);
}

TEST_CASE("a hold past its TTL is free: listed as expired, removed by the next acquirer or by clean", "[locks]") {
  TempDir dir;
  auto m = make_file_lock_manager(dir.path());
  const int64_t past = static_cast<int64_t>(std::time(nullptr)) - 60;
  const std::string old =
      "{\"client\":\"dba\",\"reason\":\"audit\",\"host\":\"h1\",\"since\":" + std::to_string(past - 3600) +
      ",\"expires\":" + std::to_string(past) + ",\"token\":1}\n";
  plant_hold(dir.path(), kKept, old);
  plant_hold(dir.path(), kBackup, old);
  auto owner = m->owner(kKept);
  REQUIRE(owner);
  CHECK_FALSE(*owner);
  auto holds = m->holds("main");
  REQUIRE(holds);
  REQUIRE(holds->size() == 2);
  CHECK((*holds)[0].expired);
  ScanOptions stale;
  stale.stale_only = true;
  auto listed = m->list(stale);
  REQUIRE(listed);
  REQUIRE(listed->size() == 2);
  CHECK(listed->at(0).expired);
  CHECK(listed->at(0).client == "dba");
  CHECK(listed->at(0).expires == past);
  // The acquirer removes the expired hold it finds.
  REQUIRE(m->acquire(kKept, {}));
  CHECK_FALSE(path_exists(join_path(dir.path(), make_hold_file_name(kKept))));
  // clean removes the other, and its free lock file.
  auto again = m->list(stale);
  REQUIRE(again);
  auto cleaned = m->clean(*again);
  CHECK_FALSE(path_exists(join_path(dir.path(), make_hold_file_name(kBackup))));
  bool removed_hold = false;
  for (const auto& r : cleaned)
    removed_hold = removed_hold || (r.file == ".main-backup.hold" && r.outcome == CleanOutcome::removed);
  CHECK(removed_hold);
  // Releasing an expired hold says it is not held.
  plant_hold(dir.path(), kBackup, old);
  Status st = m->release_hold(kBackup, "dba");
  CHECK(st.message() == "resource not held");
}

TEST_CASE("an unparsable hold file blocks its resource and shows up, never crashes", "[locks]") {
  TempDir dir;
  auto m = make_file_lock_manager(dir.path());
  plant_hold(dir.path(), kBackup, "{not json");
  auto busy = m->acquire(kBackup, {});
  REQUIRE_FALSE(busy);
  CHECK(busy.status().code() == ErrorCode::busy);
  CHECK_THAT(busy.status().message(), Catch::Contains("unparsable hold file"));
  auto listed = m->list({});
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK(listed->at(0).held);
  CHECK(listed->at(0).client == "?");
}

TEST_CASE("hold and release validate the client name and the lock name", "[locks]") {
  TempDir dir;
  auto m = make_file_lock_manager(dir.path());
  for (const char* bad : {"", "has space", "semi;colon", "../x"}) {
    INFO(bad);
    auto r = m->hold(hold_of(kBackup, bad));
    REQUIRE_FALSE(r);
    CHECK(r.status().code() == ErrorCode::usage);
  }
  auto bad_id = m->hold(hold_of(LockName{LockKind::backup_id, "main", "../etc"}, "dba"));
  REQUIRE_FALSE(bad_id);
  CHECK(bad_id.status().code() == ErrorCode::usage);
}
