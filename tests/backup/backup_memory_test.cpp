// Hidden (run by hand: cellar_tests "[.backup-memory]"): peak RSS of
// `cellar backup` on a pgbench scale-10 database (~160 MB), and the progress
// line on a pseudo-terminal. Too heavy for the regular suite on a shared box.
#include <catch2/catch.hpp>

#include "support/cellar_env.h"
#include "support/pg_server.h"

using namespace cellar;
using namespace cellar::test;

TEST_CASE("backup memory stays bounded and progress is drawn on a terminal", "[.backup-memory]") {
  auto pg = PgServer::start();
  auto init = run_program({pg_bindir() + "/pgbench", "-h", pg->socket_dir(), "-p", std::to_string(pg->port()), "-U",
                           "postgres", "-i", "-s", "10", "-q", "postgres"});
  REQUIRE(init.exit_code == 0);
  CellarEnv env;
  env.add_server("main", pg->conninfo(), "compression = \"zstd\"\nparallel_jobs = 2");
  for (int i = 0; i < 2; ++i) {
    auto r = run_program({"/usr/bin/time", "-f", "maxrss_kb=%M", CELLAR_BINARY, "-c", env.config(), "backup", "main",
                          "--immediate-checkpoint", "--no-progress"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    auto pos = r.err.find("maxrss_kb=");
    REQUIRE(pos != std::string::npos);
    long kb = std::stol(r.err.substr(pos + 10));
    WARN("peak RSS of backup " << i << ": " << kb / 1024 << " MiB");
    CHECK(kb < 64 * 1024);
  }
  std::string cmd = std::string(CELLAR_BINARY) + " -c " + env.config() + " backup main --immediate-checkpoint";
  auto tty = run_program({"script", "-qec", cmd, "/dev/null"});
  INFO(tty.out);
  CHECK(tty.exit_code == 0);
  CHECK(tty.out.find("MiB/s") != std::string::npos);
}
