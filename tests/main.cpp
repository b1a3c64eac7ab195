// Catch2 main, plus the helper modes multi-process tests re-exec this binary in
// (see support/helper_mode.h).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <csignal>

#include "support/helper_mode.h"

int main(int argc, char** argv) {
  // A write to a child or socket whose peer has gone is an error the test sees
  // (EPIPE), never the death of the whole test binary; helper modes and the
  // children it forks keep the default disposition.
  if (int code; cellar::test::run_helper_mode(argc, argv, code)) return code;
  ::signal(SIGPIPE, SIG_IGN);
  return Catch::Session().run(argc, argv);
}
