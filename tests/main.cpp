// Catch2 main, plus the helper modes multi-process tests re-exec this binary in
// (see support/helper_mode.h).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "support/helper_mode.h"

int main(int argc, char** argv) {
  if (int code; cellar::test::run_helper_mode(argc, argv, code)) return code;
  return Catch::Session().run(argc, argv);
}
