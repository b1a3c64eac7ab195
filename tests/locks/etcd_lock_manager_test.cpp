// The etcd lock backend's process locks against a real etcd: busy messages,
// fencing tokens, and what happens to a holder that dies, is cut off from
// etcd, or is stopped past its TTL. Holders in other processes are this
// binary in a helper mode, driven through pipes.
#include "locks/etcd_lock_manager.h"

#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "common/signals.h"
#include "locks/kernel_locks.h"
#include "support/etcd_server.h"
#include "support/fault_proxy.h"
#include "support/helper_mode.h"

namespace cellar::locks {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;
using test::shared_etcd;

const LockName kBackup{LockKind::backup, "main", ""};

std::string host() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

EtcdOptions options_for(const std::string& endpoint, const std::string& prefix, seconds ttl) {
  EtcdOptions o;
  o.endpoints = {endpoint};
  o.prefix = prefix;
  o.ttl = ttl;
  return o;
}

struct Site {
  std::string prefix = shared_etcd().fresh_prefix();
  std::unique_ptr<LockManager> manager(seconds ttl = seconds(10)) const {
    return make_etcd_lock_manager(options_for(shared_etcd().endpoint(), prefix, ttl));
  }
};

// Tests never let a lost lock stop the whole test process.
AcquireRequest quiet() {
  AcquireRequest r;
  r.on_lost = [] {};
  return r;
}

AcquireRequest waiting(milliseconds timeout) {
  AcquireRequest r = quiet();
  r.wait = true;
  r.timeout = timeout;
  return r;
}

// One line from fd 0, retrying reads a signal interrupted (the default
// on_lost's SIGTERM lands while the helper waits here; std::getline would
// take that EINTR for the end of input).
bool read_stdin_line(std::string& line) {
  line.clear();
  for (char c;;) {
    ssize_t n = ::read(0, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return !line.empty();
    if (c == '\n') return true;
    line += c;
  }
}

// Helper: holds main-backup (default on_lost) and answers "check" with
// "lost=<0|1> stop=<0|1> <check_current's message or 'current'>"; when the
// check fails it first waits (bounded) for its keeper to give up and call
// on_lost, which by default requests a stop.
int hold_lock_helper(const std::vector<std::string>& args) {
  // As a cellar command: the default on_lost's SIGTERM sets the stop flag,
  // and its log line goes to stderr, not into the answers on stdout.
  signals::install_stop_handlers();
  (void)log::setup(log::Options{});
  auto manager = make_etcd_lock_manager(options_for(args[0], args[1], seconds(std::stoi(args[2]))));
  auto lock = manager->acquire(kBackup, AcquireRequest{});
  if (!lock) {
    std::cout << "error " << lock.status().message() << std::endl;
    return 1;
  }
  std::cout << "token " << (*lock)->token() << std::endl;
  for (std::string line; read_stdin_line(line);) {
    const Status st = (*lock)->check_current();
    for (int i = 0; i < 300 && !st && !signals::stop_requested(); ++i) std::this_thread::sleep_for(milliseconds(10));
    std::cout << "lost=" << (*lock)->lost() << " stop=" << signals::stop_requested() << " "
              << (st ? "current" : st.message()) << std::endl;
  }
  return 0;
}
CELLAR_TEST_HELPER("etcd-hold-lock", hold_lock_helper);

uint64_t token_of(const std::string& line) {
  REQUIRE(line.rfind("token ", 0) == 0);
  return std::stoull(line.substr(6));
}

}  // namespace

TEST_CASE("an etcd lock is busy for a second acquirer, naming the holder, and free after release", "[locks][etcd]") {
  Site site;
  auto a = site.manager(), b = site.manager();
  CHECK(a->backend() == "etcd");
  CHECK(a->where() == "etcd \"" + shared_etcd().endpoint() + "\" prefix \"" + site.prefix + "\"");
  auto held = a->acquire(kBackup, quiet());
  REQUIRE(held);
  CHECK((*held)->check_current());
  CHECK_FALSE((*held)->lost());
  CHECK((*held)->name() == kBackup);

  auto busy = b->acquire(kBackup, quiet());
  REQUIRE_FALSE(busy);
  CHECK(busy.status().code() == ErrorCode::busy);
  CHECK(busy.status().message() == "another backup is running for server 'main' (lock main-backup held by PID " +
                                       std::to_string(::getpid()) + " on host " + host() + ": " +
                                       command_line_of(::getpid()) + ")");
  CHECK(busy.status().hint() == "wait until it finishes, or see 'cellar locks main'");
  auto again = a->acquire(kBackup, quiet());  // as with flock: a second acquisition is busy
  CHECK(again.status().code() == ErrorCode::busy);

  auto owner = b->owner(kBackup);
  REQUIRE(owner);
  REQUIRE(*owner);
  CHECK((*owner)->pid == ::getpid());
  CHECK((*owner)->host == host());
  CHECK((*owner)->token == (*held)->token());
  CHECK_FALSE((*owner)->is_hold());

  (*held)->release();
  auto free_now = b->owner(kBackup);
  REQUIRE(free_now);
  CHECK_FALSE(*free_now);
  auto taken = b->acquire(kBackup, quiet());
  REQUIRE(taken);
}

TEST_CASE("etcd fencing tokens strictly increase across acquisitions", "[locks][etcd]") {
  Site site;
  auto a = site.manager(), b = site.manager();
  uint64_t last = 0;
  for (int i = 0; i < 4; ++i) {
    auto held = (i % 2 ? a : b)->acquire(kBackup, quiet());
    REQUIRE(held);
    CHECK((*held)->token() > last);
    last = (*held)->token();
  }
  REQUIRE(a->hold({kBackup, "dba", "", std::nullopt}));
  auto owner = a->owner(kBackup);
  REQUIRE((owner && *owner));
  CHECK((*owner)->token > last);
}

TEST_CASE("a released etcd lock's check_current fails naming its token", "[locks][etcd]") {
  Site site;
  auto a = site.manager();
  auto held = a->acquire(kBackup, quiet());
  REQUIRE(held);
  const uint64_t token = (*held)->token();
  (*held)->release();
  (*held)->release();  // twice is fine
  const Status st = (*held)->check_current();
  CHECK(st.message() == "lock main-backup (token " + std::to_string(token) + ") is no longer held: its key \"" +
                            site.prefix + "main-backup\" is gone");
}

TEST_CASE("waiting for a held etcd lock gives up as busy after the timeout, or gets it once released",
          "[locks][etcd]") {
  Site site;
  auto a = site.manager(), b = site.manager();
  auto held = a->acquire(kBackup, quiet());
  REQUIRE(held);
  const auto start = Clock::now();
  auto busy = b->acquire(kBackup, waiting(milliseconds(300)));
  CHECK(Clock::now() - start >= milliseconds(300));
  REQUIRE_FALSE(busy);
  CHECK(busy.status().code() == ErrorCode::busy);
  CHECK(busy.status().detail() == "gave up after waiting 300 ms");

  Result<std::unique_ptr<HeldLock>> got = Status::failed("not yet");
  std::thread waiter([&] { got = b->acquire(kBackup, waiting(milliseconds(10000))); });
  (*held)->release();
  waiter.join();
  REQUIRE(got);
  CHECK((*got)->token() > (*held)->token());
}

TEST_CASE("a SIGKILLed holder's etcd lock is free once its lease expires", "[locks][etcd]") {
  Site site;
  auto child = test::spawn_helper("etcd-hold-lock", {shared_etcd().endpoint(), site.prefix, "2"});
  const uint64_t token = token_of(child.read_line());
  auto b = site.manager(seconds(2));
  auto busy = b->acquire(kBackup, quiet());
  REQUIRE_FALSE(busy);
  CHECK(busy.status().message().find("held by PID " + std::to_string(child.pid()) + " on host ") != std::string::npos);

  child.kill(SIGKILL);
  child.wait();
  const auto killed = Clock::now();
  auto got = b->acquire(kBackup, waiting(milliseconds(8000)));
  const auto took = Clock::now() - killed;
  REQUIRE(got);
  CHECK((*got)->token() > token);
  CHECK(took < milliseconds(2000 + 1500));  // the TTL, plus etcd's expiry sweep and our polling
}

TEST_CASE("an etcd holder cut off from etcd is told it lost the lock before a second client can take it",
          "[locks][etcd]") {
  Site site;
  test::FaultProxy proxy("127.0.0.1", shared_etcd().port());
  auto a = make_etcd_lock_manager(options_for(proxy.endpoint(), site.prefix, seconds(2)));
  std::mutex mutex;
  std::condition_variable told;
  std::optional<Clock::time_point> lost_at;
  AcquireRequest request;
  request.on_lost = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    lost_at = Clock::now();
    told.notify_all();
  };
  auto held = a->acquire(kBackup, request);
  REQUIRE(held);

  proxy.cut();
  auto b = site.manager(seconds(2));
  auto got = b->acquire(kBackup, waiting(milliseconds(8000)));
  const auto taken_at = Clock::now();
  REQUIRE(got);
  {
    std::unique_lock<std::mutex> lock(mutex);
    told.wait_for(lock, seconds(5), [&] { return lost_at.has_value(); });
  }
  REQUIRE(lost_at);
  CHECK(*lost_at < taken_at);
  // The margin: renewals run every TTL/3 and the deadline is a second
  // (max(1 s, TTL/4)) short of what etcd allows.
  CHECK(taken_at - *lost_at > milliseconds(500));
  CHECK((*held)->lost());

  proxy.heal();
  const Status st = (*held)->check_current();
  CHECK(st.code() == ErrorCode::failed);
  CHECK(st.message().find("superseded by token " + std::to_string((*got)->token()) + ", held by PID " +
                          std::to_string(::getpid())) != std::string::npos);

  // A later acquire takes a new lease, which is kept alive again.
  auto later = a->acquire(LockName{LockKind::cron, "main", ""}, quiet());
  REQUIRE(later);
  std::this_thread::sleep_for(milliseconds(2500));  // past the TTL: only renewals keep it
  CHECK((*later)->check_current());
  CHECK_FALSE((*later)->lost());
}

TEST_CASE("an etcd holder stopped past its TTL finds its lock superseded by the new holder once continued",
          "[locks][etcd]") {
  Site site;
  auto child = test::spawn_helper("etcd-hold-lock", {shared_etcd().endpoint(), site.prefix, "2"});
  const uint64_t token = token_of(child.read_line());
  child.write_line("check");
  CHECK(child.read_line() == "lost=0 stop=0 current");

  child.kill(SIGSTOP);
  auto b = site.manager(seconds(2));
  auto got = b->acquire(kBackup, waiting(milliseconds(8000)));
  child.kill(SIGCONT);
  REQUIRE(got);
  child.write_line("check");
  // Its keeper gave up (and, by default, asked the process to stop), and
  // the check names the new token and holder.
  CHECK(child.read_line() == "lost=1 stop=1 lock main-backup (token " + std::to_string(token) +
                                 ") was superseded by token " + std::to_string((*got)->token()) + ", held by PID " +
                                 std::to_string(::getpid()) + " on host " + host() + ": " +
                                 command_line_of(::getpid()));
  child.close_stdin();
  CHECK(child.wait() == 0);
}

TEST_CASE("an unreachable etcd makes every etcd lock operation fail naming the endpoint", "[locks][etcd]") {
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(test::unused_port());
  auto m = make_etcd_lock_manager(options_for(endpoint, "/cellar/", seconds(10)));
  const std::string expected = "cannot reach etcd at \"" + endpoint + "\": Connection refused";
  auto held = m->acquire(kBackup, quiet());
  REQUIRE_FALSE(held);
  CHECK(held.status().code() == ErrorCode::failed);
  CHECK(held.status().message() == expected);
  CHECK(held.status().hint() == "check etcd_endpoints and that etcd is running there");
  CHECK(m->owner(kBackup).status().message() == expected);
  CHECK(m->hold({kBackup, "dba", "", std::nullopt}).status().message() == expected);
  CHECK(m->release_hold(kBackup, "dba").message() == expected);
  CHECK(m->holds("").status().message() == expected);
  CHECK(m->list({}).status().message() == expected);
}

TEST_CASE("an etcd lock manager refuses bad names, no endpoints and an unreadable password file", "[locks][etcd]") {
  Site site;
  auto m = site.manager();
  auto bad = m->acquire(LockName{LockKind::backup, "no/slash", ""}, quiet());
  CHECK(bad.status().code() == ErrorCode::usage);
  auto none = make_etcd_lock_manager(EtcdOptions{})->acquire(kBackup, quiet());
  CHECK(none.status().code() == ErrorCode::usage);
  CHECK(none.status().message() == "no etcd endpoints configured");
  EtcdOptions o = options_for(shared_etcd().endpoint(), site.prefix, seconds(10));
  o.user = "cellar";
  o.password_file = "/nonexistent/etcd-password";
  auto unreadable = make_etcd_lock_manager(o)->list({});
  CHECK(unreadable.status().code() == ErrorCode::failed);
  CHECK(unreadable.status().message().find("cannot read the etcd password: ") == 0);
  CHECK(unreadable.status().message().find("/nonexistent/etcd-password") != std::string::npos);
}

}  // namespace cellar::locks
