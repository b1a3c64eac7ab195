// common/pause_point: a helper process reaches pause points and the test,
// through a PauseListener, sees it arrive, holds it and lets it go.
#include "common/pause_point.h"

#include <catch2/catch.hpp>
#include <iostream>
#include <memory>

#include "common/log.h"
#include "support/helper_mode.h"
#include "support/pause_listener.h"

using namespace cellar;
using namespace cellar::test;

namespace {

// Passes "other", then `args[0]` twice, printing a line after each.
int pass_points(const std::vector<std::string>& args) {
  if (!log::setup({})) return 1;  // warnings to stderr, as in cellar, not stdout
  pause_point("other");
  std::cout << "before" << std::endl;
  pause_point(args.at(0));
  std::cout << "after" << std::endl;
  pause_point(args.at(0));
  std::cout << "done" << std::endl;
  return 0;
}
CELLAR_TEST_HELPER("pause-points", pass_points);

Child spawn_passing(const std::string& point, const std::vector<std::string>& env) {
  return spawn({self_exe(), "--helper", "pause-points", point}, env);
}

}  // namespace

TEST_CASE("a process pauses once at the point CELLAR_PAUSE_AT names, until the test releases it", "[common]") {
  PauseListener listener("here");
  Child child = spawn_passing("here", {listener.env()});
  CHECK(child.read_line() == "before");  // another point's name does not pause
  auto pid = listener.wait_reached();
  REQUIRE(pid);
  CHECK(*pid == child.pid());
  listener.release();
  CHECK(child.read_line() == "after");
  CHECK(child.read_line() == "done");  // the second pass does not pause again
  CHECK(child.wait() == 0);
}

TEST_CASE("a paused process goes on when the listener goes away", "[common]") {
  auto listener = std::make_unique<PauseListener>("here");
  Child child = spawn_passing("here", {listener->env()});
  REQUIRE(listener->wait_reached());
  listener.reset();
  CHECK(child.read_line() == "before");
  CHECK(child.read_line() == "after");
  CHECK(child.wait() == 0);
}

TEST_CASE("a pause point whose socket cannot be reached does not stop the process", "[common]") {
  TempDir dir;
  Child child = spawn_passing("here", {"CELLAR_PAUSE_AT=here:" + dir / "nobody.sock"});
  CHECK(child.read_line() == "before");
  CHECK(child.read_line() == "after");
  CHECK(child.read_line() == "done");
  CHECK(child.wait() == 0);
}
