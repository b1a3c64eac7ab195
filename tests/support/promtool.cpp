#include "support/promtool.h"

#include <catch2/catch.hpp>

#include "support/run.h"

namespace cellar::test {

void require_promtool_clean(const std::string& text) {
  RunResult which = run_program({"sh", "-c", "command -v promtool"});
  INFO("promtool is missing: install the Debian package prometheus (scripts/setup)");
  REQUIRE(which.exit_code == 0);
  TempDir dir;
  write_text(dir / "metrics.prom", text);
  RunResult r = run_program({"sh", "-c", "promtool check metrics < \"$1\"", "sh", dir / "metrics.prom"});
  INFO("text:\n" << text << "\npromtool stdout:\n" << r.out << "\npromtool stderr:\n" << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.empty());
  CHECK(r.err.empty());
}

}  // namespace cellar::test
