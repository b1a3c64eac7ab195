// The fault matrix, concurrency (docs/reliability.md): archive-wal passes
// started two at a time, over and over, while receive-wal streams a server
// under pgbench load. The archive-wal lock lets one pass run at a time; the
// others exit 3 naming the holder, and no segment is archived twice, lost,
// or stored torn.
#include <atomic>
#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "common/fs.h"
#include "cron/cron_support.h"
#include "support/pg_server.h"
#include "wal/wal_store.h"

using namespace cellar;
using namespace cellar::test;

TEST_CASE(
    "archive-wal passes racing each other and receive-wal under load store every segment once and whole; the "
    "losers exit 3",
    "[faults][pg]") {
  auto pg = PgServer::start();
  pg->psql("SELECT pg_create_physical_replication_slot('hold', true)");  // keeps the server's WAL to compare
  CellarEnv env;
  env.add_server("main", pg->conninfo(), "slot_name = \"race\"\ncreate_slot = \"auto\"\ncompression = \"none\"");
  ReceiverGuard receivers(env, {"main"});
  Child receiver = env.spawn_cellar({"receive-wal", "main"});
  REQUIRE(wait_until([&] { return slot_active(*pg, "race"); }, 20));
  const std::string first = switch_segment(env, "main");

  // The load: pgbench's initialisation (five segments of WAL or so), then its transactions.
  const std::vector<std::string> pgbench{pg_bindir() + "/pgbench",   "-h", pg->socket_dir(), "-p",
                                         std::to_string(pg->port()), "-U", "postgres"};
  auto pgbench_with = [&](std::vector<std::string> args) {
    args.insert(args.begin(), pgbench.begin(), pgbench.end());
    args.push_back("postgres");
    return args;
  };
  std::atomic<bool> loading{true};
  RunResult init, bench;
  std::thread load([&] {
    init = run_program(pgbench_with({"-i", "-s", "6", "-q"}));
    bench = run_program(pgbench_with({"-T", "4", "-c", "2"}));
    loading = false;
  });
  // Two racers, each starting archive-wal again as soon as its last pass ended.
  std::vector<RunResult> passes[2];
  auto race = [&](int i) {
    while (loading) passes[i].push_back(env.run({"archive-wal", "main"}));
  };
  std::thread a(race, 0), b(race, 1);
  load.join();
  a.join();
  b.join();
  INFO(init.err << bench.err);
  REQUIRE(init.exit_code == 0);
  REQUIRE(bench.exit_code == 0);

  // Every pass archived or found the lock taken; some did each.
  int archived = 0, busy = 0;
  for (const auto& racer : passes)
    for (const auto& pass : racer) {
      INFO(pass.out << pass.err);
      CHECK((pass.exit_code == 0 || pass.exit_code == 3));
      // A source another pass had already stored would be "catalogued" or "dropped".
      CHECK_FALSE(contains(pass.out, "catalogued"));
      CHECK_FALSE(contains(pass.out, "dropped"));
      if (pass.exit_code == 0 && contains(pass.out, "archived ") && !contains(pass.out, "archived 0 ")) ++archived;
      if (pass.exit_code == 3) {
        ++busy;
        CHECK(contains(pass.err, "another archive-wal is running for server 'main' (lock "));
      }
    }
  INFO(passes[0].size() << " and " << passes[1].size() << " passes");
  CHECK(archived > 0);
  CHECK(busy > 0);

  const std::string last = switch_segment(env, "main");
  cron_until_archived(env, "main", last);
  auto names = archived_names(env, "main");
  CHECK(std::set<std::string>(names.begin(), names.end()).size() == names.size());  // no line twice
  CHECK(archive_gaps(env, "main", first, last).empty());
  REQUIRE(pg::parse_wal_file_name(last, pg::kDefaultSegmentSize)->segno >=
          pg::parse_wal_file_name(first, pg::kDefaultSegmentSize)->segno + 3);
  // Each stored whole, the server's bytes, and get-wal returns them.
  const std::string wals = wal::wals_dir(env.server_dir("main"));
  TempDir out;
  for (auto segno = pg::parse_wal_file_name(first, pg::kDefaultSegmentSize)->segno;
       segno <= pg::parse_wal_file_name(last, pg::kDefaultSegmentSize)->segno; ++segno) {
    const std::string name = segment(segno);
    INFO(name);
    const std::string server_copy = read_text(pg->data_dir() + "/pg_wal/" + name);
    REQUIRE(server_copy.size() == pg::kDefaultSegmentSize);
    bool stored_whole = read_text(wal::archive_dir_for(wals, name) + "/" + name) == server_copy;
    CHECK(stored_whole);
    auto got = env.run({"get-wal", "main", name, "--output-directory", out.path()});
    CHECK(got.exit_code == 0);
    bool got_whole = read_text(out / name) == server_copy;
    CHECK(got_whole);
  }
  CHECK(list_dir(env.server_dir("main") + "/errors")->empty());
}
