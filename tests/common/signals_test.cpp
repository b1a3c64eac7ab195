// common/signals.h: stop and reopen flags with a self-pipe that wakes a
// sleeper, blocking around a fork, and forwarding to a child. Each case runs
// in a helper process (this binary re-executed) so the test process keeps its
// own handlers; the helper reports on stdout and the test answers on stdin or
// with kill(2), never with sleeps.
#include "common/signals.h"

#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <iostream>
#include <string>

#include "common/process.h"
#include "support/helper_mode.h"

using namespace cellar;

namespace {

void say(const std::string& line) { std::cout << line << std::endl; }

// Sleeps in wait_for_signal until a stop, saying "reopen" for each SIGHUP.
int stop_handlers(const std::vector<std::string>&) {
  signals::install_stop_handlers();
  say("ready");
  while (!signals::stop_requested()) {
    if (!signals::wait_for_signal(std::chrono::seconds(60))) {
      say("timeout");  // the self-pipe did not wake us
      return 1;
    }
    if (signals::take_reopen_request()) say("reopen");
  }
  say("stopped");
  return 0;
}
CELLAR_TEST_HELPER("signals-stop-handlers", stop_handlers);

// Holds SIGTERM blocked until the test says "go", then lets it through.
int blocked_term(const std::vector<std::string>&) {
  signals::install_stop_handlers();
  signals::Blocked blocked;
  say("blocked");
  std::string go;
  std::getline(std::cin, go);
  sigset_t pending;
  ::sigpending(&pending);
  say(sigismember(&pending, SIGTERM) && !signals::stop_requested() ? "pending" : "delivered too early");
  blocked.restore();
  say(signals::stop_requested() ? "stopped" : "still running");
  return 0;
}
CELLAR_TEST_HELPER("signals-blocked", blocked_term);

// Runs the stop-handlers helper as its child, forwarding our signals to it.
int forwarder(const std::vector<std::string>&) {
  signals::Blocked blocked;
  SpawnOptions o;
  o.argv = {test::self_exe(), "--helper", "signals-stop-handlers"};
  auto child = spawn(o);
  if (!child) return 2;
  signals::Forwarder forward(child->pid());
  blocked.restore();
  auto ended = child->wait();
  say("child exited " + (ended ? std::to_string(ended->shell_code()) : std::string("?")));
  return 0;
}
CELLAR_TEST_HELPER("signals-forwarder", forwarder);

int wait_without_signal(const std::vector<std::string>&) {
  signals::install_stop_handlers();
  say(signals::wait_for_signal(std::chrono::milliseconds(20)) ? "woke" : "timed out");
  signals::request_stop();
  say(signals::wait_for_signal(std::chrono::seconds(60)) && signals::stop_requested() ? "woke" : "timed out");
  return 0;
}
CELLAR_TEST_HELPER("signals-wait", wait_without_signal);

}  // namespace

TEST_CASE("SIGHUP asks for a reopen and SIGTERM or SIGINT for a stop, waking a sleeper at once", "[common]") {
  for (int stop : {SIGTERM, SIGINT}) {
    INFO("stop signal " << stop);
    test::Child child = test::spawn_helper("signals-stop-handlers");
    REQUIRE(child.read_line() == "ready");
    for (int i = 0; i < 2; ++i) {
      child.kill(SIGHUP);
      CHECK(child.read_line() == "reopen");
    }
    child.kill(stop);
    CHECK(child.read_line() == "stopped");
    CHECK(child.wait() == 0);
  }
}

TEST_CASE("a signal blocked by Blocked stays pending until restore, then is handled", "[common]") {
  test::Child child = test::spawn_helper("signals-blocked");
  REQUIRE(child.read_line() == "blocked");
  child.kill(SIGTERM);  // pending in the helper before kill(2) returns
  child.write_line("go");
  CHECK(child.read_line() == "pending");
  CHECK(child.read_line() == "stopped");
  CHECK(child.wait() == 0);
}

TEST_CASE("a Forwarder passes SIGHUP and SIGTERM on to the child", "[common]") {
  test::Child parent = test::spawn_helper("signals-forwarder");
  REQUIRE(parent.read_line() == "ready");  // the grandchild shares the pipe
  parent.kill(SIGHUP);
  CHECK(parent.read_line() == "reopen");
  parent.kill(SIGTERM);
  CHECK(parent.read_line() == "stopped");
  CHECK(parent.read_line() == "child exited 0");
  CHECK(parent.wait() == 0);
}

TEST_CASE("wait_for_signal times out without a signal and returns at once after request_stop", "[common]") {
  test::Child child = test::spawn_helper("signals-wait");
  CHECK(child.read_line() == "timed out");
  CHECK(child.read_line() == "woke");
  CHECK(child.wait() == 0);
}
