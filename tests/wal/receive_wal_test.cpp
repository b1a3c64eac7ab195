// receive-wal and switch-wal against a real PostgreSQL 15.
#include <signal.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "common/fs.h"
#include "locks/lock_file.h"
#include "locks/lock_names.h"
#include "pg/wal_names.h"
#include "support/cellar_env.h"
#include "support/pg_server.h"

using namespace cellar;
using namespace cellar::test;

namespace {

std::string pgbench() { return pg_bindir() + "/pgbench"; }

void run_pgbench(const PgServer& pg, const std::vector<std::string>& args) {
  std::vector<std::string> argv{pgbench(), "-h", pg.socket_dir(), "-p", std::to_string(pg.port()), "-U", "postgres"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("postgres");
  auto r = run_program(argv);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

// Complete segment names in a directory.
std::set<std::string> complete_segments(const std::string& dir) {
  std::set<std::string> out;
  if (auto names = list_dir(dir))
    for (const auto& n : *names)
      if (pg::is_segment_name(n)) out.insert(n);
  return out;
}

bool same_bytes(const std::string& a, const std::string& b) { return read_text(a) == read_text(b); }

// A slot that nobody advances keeps every WAL segment on the server, so the
// test can compare what cellar streamed with the server's own files.
void hold_wal(const PgServer& pg) { pg.psql("SELECT pg_create_physical_replication_slot('hold', true)"); }

}  // namespace

TEST_CASE("receive-wal streams segments byte-identical to the server's under pgbench load", "[wal][pg]") {
  auto pg = PgServer::start();
  hold_wal(*pg);
  CellarEnv env;
  env.add_server("main", pg->conninfo(), "create_slot = \"auto\"");
  Child receiver = env.spawn_cellar({"receive-wal", "main"});
  REQUIRE(wait_until([&] { return receiver_pid(env, "main").has_value(); }, 10));
  run_pgbench(*pg, {"-i", "-s", "2", "-q"});
  run_pgbench(*pg, {"-T", "3", "-c", "2"});
  std::string closed = switch_segment(env, "main");
  std::string streaming = env.server_dir("main") + "/streaming";
  REQUIRE(wait_until([&] { return path_exists(streaming + "/" + closed); }, 30));

  auto stop = env.run({"receive-wal", "--stop", "main"});
  INFO(stop.err);
  REQUIRE(stop.exit_code == 0);
  CHECK(receiver.wait() == 0);

  int compared = 0;
  for (const auto& seg : complete_segments(streaming)) {
    std::string server_copy = pg->data_dir() + "/pg_wal/" + seg;
    if (!path_exists(server_copy)) continue;
    INFO(seg);
    CHECK(same_bytes(streaming + "/" + seg, server_copy));
    ++compared;
  }
  CHECK(compared >= 3);
  // The slot never runs ahead of what receive-wal made durable.
  auto restart = pg::parse_lsn(pg->psql("SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'cellar'"));
  REQUIRE(restart);
  auto last = pg::parse_wal_file_name(closed, pg::kDefaultSegmentSize);
  CHECK(*restart <= pg::segment_start(last->segno + 1, pg::kDefaultSegmentSize));
}

TEST_CASE("receive-wal killed with SIGKILL over and over loses no segment", "[wal][pg]") {
  auto pg = PgServer::start();
  hold_wal(*pg);
  CellarEnv env;
  env.add_server("main", pg->conninfo(), "create_slot = \"auto\"");
  run_pgbench(*pg, {"-i", "-s", "1", "-q"});
  std::string streaming = env.server_dir("main") + "/streaming";
  REQUIRE(env.run({"receive-wal", "--create-slot", "main"}).exit_code == 0);
  std::string first_closed = switch_segment(env, "main");
  pg->psql("CREATE TABLE churn(x int, pad text)");
  for (int round = 0; round < 6; ++round) {
    Child receiver = env.spawn_cellar({"receive-wal", "main"});
    REQUIRE(wait_until([&] { return receiver_pid(env, "main").has_value(); }, 10));
    // About one segment of WAL per round, with the kill landing while it streams.
    std::thread load(
        [&] { pg->psql("INSERT INTO churn SELECT g, repeat('x', 60) FROM generate_series(1, 120000) g"); });
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + 150 * round));  // a different instant each round
    receiver.kill(SIGKILL);
    load.join();
    CHECK(receiver.wait() == 128 + SIGKILL);
    // The kernel drops the lock with the process: the next receiver starts at once.
    CHECK_FALSE(receiver_pid(env, "main").has_value());
  }
  std::string last_closed = switch_segment(env, "main");
  Child receiver = env.spawn_cellar({"receive-wal", "main"});
  REQUIRE(wait_until([&] { return path_exists(streaming + "/" + last_closed); }, 60));
  REQUIRE(env.run({"receive-wal", "--stop", "main"}).exit_code == 0);
  receiver.wait();

  auto segs = complete_segments(streaming);
  auto first = pg::parse_wal_file_name(first_closed, pg::kDefaultSegmentSize)->segno + 1;
  auto last = pg::parse_wal_file_name(last_closed, pg::kDefaultSegmentSize)->segno;
  REQUIRE(last > first);
  for (auto segno = first; segno <= last; ++segno) {
    std::string name = pg::make_segment_name(1, segno, pg::kDefaultSegmentSize);
    INFO(name);
    REQUIRE(segs.count(name) == 1);
    CHECK(same_bytes(streaming + "/" + name, pg->data_dir() + "/pg_wal/" + name));
  }
}

TEST_CASE("receive-wal follows a timeline switch", "[wal][pg]") {
  auto pg = PgServer::start();
  pg->psql("CREATE TABLE tl(x int); INSERT INTO tl VALUES (1)");
  // Make the server a standby with no upstream, so that promoting it starts timeline 2.
  pg->stop();
  run_as_postgres({"touch", pg->data_dir() + "/standby.signal"});
  pg->start_again();
  CellarEnv env;
  env.add_server("main", pg->conninfo(), "create_slot = \"auto\"");
  Child receiver = env.spawn_cellar({"receive-wal", "main"});
  std::string streaming = env.server_dir("main") + "/streaming";
  REQUIRE(wait_until([&] { return path_exists(streaming) && !list_dir(streaming)->empty(); }, 20));
  auto promote = run_as_postgres({pg_bindir() + "/pg_ctl", "-D", pg->data_dir(), "promote", "-w"});
  INFO(promote.err);
  REQUIRE(promote.exit_code == 0);
  pg->psql("INSERT INTO tl SELECT generate_series(1, 100000)");
  std::string closed = switch_segment(env, "main");
  REQUIRE(closed.substr(0, 8) == "00000002");
  REQUIRE(wait_until([&] { return path_exists(streaming + "/" + closed); }, 30));
  CHECK(path_exists(streaming + "/00000002.history"));
  CHECK(same_bytes(streaming + "/" + closed, pg->data_dir() + "/pg_wal/" + closed));
  // The old timeline's last segment is never complete: it stays .partial.
  bool old_partial = false;
  for (const auto& n : *list_dir(streaming))
    if (n.rfind("00000001", 0) == 0 && n.size() > 24 && n.substr(24) == ".partial") old_partial = true;
  CHECK(old_partial);
  REQUIRE(env.run({"receive-wal", "--stop", "main"}).exit_code == 0);
  receiver.wait();
}

TEST_CASE("receive-wal --stop stops only that server's receiver", "[wal][pg]") {
  auto& pg = shared_pg();
  CellarEnv env;
  env.add_server("main", pg.conninfo(), "create_slot = \"auto\"\nslot_name = \"stop_main\"");
  env.add_server("main-2", pg.conninfo(), "create_slot = \"auto\"\nslot_name = \"stop_main_2\"");
  Child a = env.spawn_cellar({"receive-wal", "main"});
  Child b = env.spawn_cellar({"receive-wal", "main-2"});
  REQUIRE(wait_until([&] { return receiver_pid(env, "main") && receiver_pid(env, "main-2"); }, 10));
  CHECK(*receiver_pid(env, "main") == a.pid());
  CHECK(*receiver_pid(env, "main-2") == b.pid());

  auto r = env.run({"receive-wal", "--stop", "main"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find(std::to_string(a.pid())) != std::string::npos);
  CHECK(a.wait() == 0);
  CHECK_FALSE(receiver_pid(env, "main").has_value());
  REQUIRE(receiver_pid(env, "main-2").has_value());
  CHECK(*receiver_pid(env, "main-2") == b.pid());

  CHECK(env.run({"receive-wal", "--stop", "main"}).exit_code == 1);
  CHECK(env.run({"receive-wal", "--stop", "main-2"}).exit_code == 0);
  CHECK(b.wait() == 0);
  pg.psql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'stop_main%'");
}

TEST_CASE("receive-wal slot options create, refuse duplicates and drop the slot", "[wal][pg]") {
  auto& pg = shared_pg();
  CellarEnv env;
  env.add_server("main", pg.conninfo(), "slot_name = \"opt_slot\"");
  auto slot_count = [&] { return pg.psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'opt_slot'"); };
  auto created = env.run({"receive-wal", "--create-slot", "main"});
  INFO(created.err);
  REQUIRE(created.exit_code == 0);
  CHECK(slot_count() == "1");
  CHECK(pg.psql("SELECT restart_lsn IS NOT NULL FROM pg_replication_slots WHERE slot_name = 'opt_slot'") == "t");

  auto again = env.run({"receive-wal", "--create-slot", "main"});
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("already exists") != std::string::npos);
  CHECK(env.run({"receive-wal", "--create-slot", "--if-not-exists", "main"}).exit_code == 0);

  CHECK(env.run({"receive-wal", "--drop-slot", "main"}).exit_code == 0);
  CHECK(slot_count() == "0");
  auto missing = env.run({"receive-wal", "--drop-slot", "main"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("does not exist") != std::string::npos);

  // create_slot = "manual" (the default) and no slot: a clear error, no retry loop.
  auto run = env.run({"receive-wal", "main"});
  CHECK(run.exit_code == 1);
  CHECK(run.err.find("replication slot \"opt_slot\" does not exist") != std::string::npos);
  CHECK(run.err.find("--create-slot") != std::string::npos);
  CHECK(env.run({"receive-wal", "--if-not-exists", "main"}).exit_code == 2);
}

TEST_CASE("receive-wal retries an unreachable server with a growing delay and stops on SIGTERM", "[wal]") {
  CellarEnv env;
  TempDir nowhere;
  env.add_server("main", "host=" + nowhere.path() + " port=5 user=postgres", "receive_wal_backoff_limit = 2");
  std::string log = env.home() + "/cellar.log";
  Child receiver = env.spawn_cellar({"receive-wal", "main"});
  auto count = [&](const std::string& needle) {
    std::string text = read_text(log);
    size_t n = 0;
    for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
    return n;
  };
  REQUIRE(wait_until([&] { return count("reconnecting in 2 s") >= 2; }, 20));
  CHECK(count("reconnecting in 1 s") == 1);
  CHECK(count("could not connect to PostgreSQL") >= 3);
  CHECK(receiver_pid(env, "main") == receiver.pid());  // it keeps its lock while retrying
  receiver.kill(SIGTERM);
  CHECK(receiver.wait() == 0);
  CHECK_FALSE(receiver_pid(env, "main").has_value());
}

TEST_CASE("a second receive-wal for the same server exits 3 naming the holder", "[wal]") {
  CellarEnv env;
  TempDir nowhere;
  env.add_server("main", "host=" + nowhere.path() + " port=5 user=postgres");
  Child receiver = env.spawn_cellar({"receive-wal", "main"});
  REQUIRE(wait_until([&] { return receiver_pid(env, "main").has_value(); }, 10));
  auto second = env.run({"receive-wal", "main"});
  CHECK(second.exit_code == 3);
  CHECK(second.err.find(std::to_string(receiver.pid())) != std::string::npos);
  receiver.kill(SIGTERM);
  CHECK(receiver.wait() == 0);
}

TEST_CASE("receive-wal and archive-wal killed under load archive every segment exactly once", "[wal][pg]") {
  auto pg = PgServer::start();
  hold_wal(*pg);
  CellarEnv env;
  env.add_server("main", pg->conninfo(), "create_slot = \"auto\"\ncompression = \"zstd\"");
  REQUIRE(env.run({"receive-wal", "--create-slot", "main"}).exit_code == 0);
  std::string first_closed = switch_segment(env, "main");
  pg->psql("CREATE TABLE churn(x int, pad text)");
  for (int round = 0; round < 5; ++round) {
    Child receiver = env.spawn_cellar({"receive-wal", "main"});
    REQUIRE(wait_until([&] { return receiver_pid(env, "main").has_value(); }, 10));
    std::thread load(
        [&] { pg->psql("INSERT INTO churn SELECT g, repeat('y', 60) FROM generate_series(1, 120000) g"); });
    Child archiver = env.spawn_cellar({"archive-wal", "main"});
    std::this_thread::sleep_for(std::chrono::milliseconds(30 + 70 * round));  // a different instant each round
    archiver.kill(SIGKILL);
    receiver.kill(SIGKILL);
    load.join();
    archiver.wait();
    receiver.wait();
  }
  std::string last_closed = switch_segment(env, "main");
  {
    Child receiver = env.spawn_cellar({"receive-wal", "main"});
    std::string streaming = env.server_dir("main") + "/streaming";
    REQUIRE(wait_until([&] { return path_exists(streaming + "/" + last_closed); }, 60));
    REQUIRE(env.run({"receive-wal", "--stop", "main"}).exit_code == 0);
    receiver.wait();
  }
  auto archived = env.run({"archive-wal", "main"});
  INFO(archived.err);
  REQUIRE(archived.exit_code == 0);

  // xlog.db: every segment from first to last exactly once, in order.
  std::string xlogdb = read_text(env.server_dir("main") + "/wals/xlog.db");
  std::vector<std::string> names;
  for (size_t pos = 0; pos < xlogdb.size();) {
    size_t nl = xlogdb.find('\n', pos);
    std::string line = xlogdb.substr(pos, nl - pos);
    pos = nl == std::string::npos ? xlogdb.size() : nl + 1;
    if (pg::is_segment_name(line.substr(0, line.find('\t')))) names.push_back(line.substr(0, 24));
  }
  auto first = pg::parse_wal_file_name(first_closed, pg::kDefaultSegmentSize)->segno + 1;
  auto last = pg::parse_wal_file_name(last_closed, pg::kDefaultSegmentSize)->segno;
  REQUIRE(last >= first + 3);
  std::set<std::string> unique(names.begin(), names.end());
  CHECK(unique.size() == names.size());
  TempDir out;
  for (auto segno = first; segno <= last; ++segno) {
    std::string name = pg::make_segment_name(1, segno, pg::kDefaultSegmentSize);
    INFO(name);
    CHECK(unique.count(name) == 1);
    // And the archived (zstd) copy decompresses to the server's bytes.
    auto got = env.run({"get-wal", "main", name, "--output-directory", out.path()});
    REQUIRE(got.exit_code == 0);
    CHECK(same_bytes(out / name, pg->data_dir() + "/pg_wal/" + name));
  }
  auto errors = *list_dir(env.server_dir("main") + "/errors");
  INFO((errors.empty() ? std::string() : errors.front()));
  CHECK(errors.empty());
}

TEST_CASE("receive-wal reopens its log file on SIGHUP", "[wal]") {
  CellarEnv env;
  TempDir nowhere;
  env.add_server("main", "host=" + nowhere.path() + " port=5 user=postgres", "receive_wal_backoff_limit = 1");
  std::string log = env.home() + "/cellar.log";
  Child receiver = env.spawn_cellar({"receive-wal", "main"});
  REQUIRE(wait_until([&] { return read_text(log).find("reconnecting in") != std::string::npos; }, 10));
  // What logrotate does: move the file away, then tell the process.
  REQUIRE(::rename(log.c_str(), (log + ".1").c_str()) == 0);
  receiver.kill(SIGHUP);
  REQUIRE(wait_until([&] { return read_text(log).find("reconnecting in") != std::string::npos; }, 10));
  receiver.kill(SIGTERM);
  CHECK(receiver.wait() == 0);
}

TEST_CASE("receive-wal --reset restarts streaming at the server's current segment", "[wal][pg]") {
  auto& pg = shared_pg();
  CellarEnv env;
  env.add_server("main", pg.conninfo(), "create_slot = \"auto\"\nslot_name = \"reset_slot\"");
  std::string streaming = env.server_dir("main") + "/streaming";
  {
    Child receiver = env.spawn_cellar({"receive-wal", "main"});
    REQUIRE(wait_until([&] { return receiver_pid(env, "main").has_value(); }, 10));
    // While it runs, --reset is refused as busy.
    auto busy = env.run({"receive-wal", "--reset", "main"});
    CHECK(busy.exit_code == 3);
    REQUIRE(env.run({"receive-wal", "--stop", "main"}).exit_code == 0);
    receiver.wait();
  }
  write_text(streaming + "/000000010000000000000001.partial", "stale");
  auto r = env.run({"receive-wal", "--reset", "main"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::string current = pg.psql("SELECT pg_walfile_name(pg_current_wal_lsn())");
  CHECK(r.out.find(current) != std::string::npos);
  std::vector<std::string> partials;
  for (const auto& n : *list_dir(streaming))
    if (n.find(".partial") != std::string::npos) partials.push_back(n);
  REQUIRE(partials.size() == 1);
  CHECK(partials[0] == current + ".partial");
  pg.psql("SELECT pg_drop_replication_slot('reset_slot')");
}
