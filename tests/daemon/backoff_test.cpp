// zdaemon's restart rules (daemon/backoff.h) as a value: delays, the reset
// after a long run, forever = false, and the exit codes that are final.
#include "daemon/backoff.h"

#include <catch2/catch.hpp>

using namespace cellar;
using namespace cellar::daemon;
using namespace std::chrono_literals;

namespace {

ExitStatus killed(int sig) { return ExitStatus{0, sig}; }
ExitStatus exited(int code) { return ExitStatus{code, 0}; }

}  // namespace

TEST_CASE("fast crashes are restarted after 1 s, 2 s, 3 s and then the backoff limit", "[daemon]") {
  Backoff b({3s, true, {0, 2}});
  std::vector<int64_t> delays;
  for (int i = 0; i < 6; ++i) {
    REQUIRE(b.on_exit(killed(9), 100ms) == AfterExit::restart);
    delays.push_back(b.delay().count());
  }
  CHECK(delays == std::vector<int64_t>{1, 2, 3, 3, 3, 3});
}

TEST_CASE("a child that stayed up longer than the backoff limit starts a new series at 1 s", "[daemon]") {
  Backoff b({5s, true, {0, 2}});
  for (int i = 0; i < 4; ++i) REQUIRE(b.on_exit(exited(1), 1s) == AfterExit::restart);
  CHECK(b.delay() == 4s);
  REQUIRE(b.on_exit(exited(1), 6s) == AfterExit::restart);
  CHECK(b.delay() == 1s);
  REQUIRE(b.on_vanished(2s) == AfterExit::restart);
  CHECK(b.delay() == 2s);
}

TEST_CASE("with forever off an always-crashing child is restarted exactly backoff-limit times", "[daemon]") {
  Backoff b({4s, false, {0, 2}});
  int restarts = 0;
  while (b.on_exit(killed(11), 10ms) == AfterExit::restart) ++restarts;
  CHECK(restarts == 4);
  CHECK(b.on_exit(killed(11), 10ms) == AfterExit::give_up);
}

TEST_CASE("an exit status in exit_codes is final, other statuses and signals are crashes", "[daemon]") {
  Backoff b({10s, true, {0, 2}});
  CHECK(b.on_exit(exited(0), 1s) == AfterExit::final);
  CHECK(b.on_exit(exited(2), 1s) == AfterExit::final);
  CHECK(b.on_exit(exited(1), 1s) == AfterExit::restart);
  CHECK(b.on_exit(exited(3), 1s) == AfterExit::restart);
  // Killed by signal 2 is not "exit 2".
  CHECK(b.on_exit(killed(2), 1s) == AfterExit::restart);
  Backoff none({10s, true, {}});
  CHECK(none.on_exit(exited(0), 1s) == AfterExit::restart);
}
