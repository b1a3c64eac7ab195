// archive-wal and get-wal through the real `cellar` binary: output, exit
// codes, the busy lock, and crash safety — archive-wal SIGKILLed at many
// different instants, then run to completion, loses and duplicates nothing.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "common/fs.h"
#include "locks/lock_backend.h"
#include "locks/typed_lock.h"
#include "support/cellar_env.h"
#include "wal/get_wal.h"
#include "wal/wal_store.h"
#include "wal/xlogdb.h"
#include "wal_fixture.h"

using namespace cellar;
using namespace cellar::test;

namespace {

constexpr uint64_t kSeg = pg::kDefaultSegmentSize;
constexpr uint64_t kSmallSeg = 1u << 20;

void add_main(CellarEnv& env, const std::string& extra_toml = "") {
  env.add_server("main", "host=127.0.0.1 port=1 dbname=postgres", extra_toml);
}

// Makes the server's segments 1 MiB, as initdb --wal-segsize=1 would.
void small_segments(const CellarEnv& env) {
  put_file(env.server_dir("main"), "identity.json",
           "{\"systemid\": \"7000000000000000001\", \"server_version\": 150000, \"xlog_segment_size\": 1048576, "
           "\"first_seen\": 1700000000}\n");
}

}  // namespace

TEST_CASE("archive-wal and get-wal have --help and reject bad arguments with exit 2", "[wal]") {
  CellarEnv env;
  add_main(env);
  for (const char* command : {"archive-wal", "get-wal"}) {
    auto help = env.run({command, "--help"});
    CHECK(help.exit_code == 0);
    CHECK(help.out.find(std::string("Usage: cellar ") + command + " SERVER") == 0);
    CHECK(env.run({command}).exit_code == 2);
    CHECK(env.run({command, "main", segment(1), "--bogus"}).exit_code == 2);
  }
  CHECK(env.run({"get-wal", "main"}).exit_code == 2);
  auto unknown = env.run({"archive-wal", "nosuch"});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("unknown server \"nosuch\"") != std::string::npos);
  CHECK(env.run({"archive-wal", "all"}).exit_code == 2);
}

TEST_CASE("cellar archive-wal archives, prints a summary line and get-wal returns the bytes", "[wal]") {
  CellarEnv env;
  add_main(env, "compression = \"lz4\"");
  const std::string streaming = env.server_dir("main") + "/streaming";
  put_file(streaming, segment(1), wal_bytes(segment(1), 1));
  put_file(streaming, segment(2), wal_bytes(segment(2), 2));
  put_file(streaming, "00000002.history", "1\t0/2000000\tno recovery target specified\n");

  auto r = env.run({"archive-wal", "main"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "archived 3 WAL files (32.0 MiB) for server 'main'\n");
  CHECK(path_exists(env.server_dir("main") + "/wals/0000000100000000/" + segment(2) + ".lz4"));

  auto out = env.run({"get-wal", "main", segment(2)});
  REQUIRE(out.exit_code == 0);
  CHECK(out.out == wal_bytes(segment(2), 2));
  CHECK(out.err.empty());

  auto history = env.run({"get-wal", "main", "00000002.history"});
  REQUIRE(history.exit_code == 0);
  CHECK(history.out == "1\t0/2000000\tno recovery target specified\n");

  TempDir dest;
  auto into = env.run({"get-wal", "main", segment(1), "--output-directory", dest / "pg_wal"});
  REQUIRE(into.exit_code == 0);
  CHECK(into.out.empty());
  CHECK(read_text(dest / ("pg_wal/" + segment(1))) == wal_bytes(segment(1), 1));
  CHECK(list_dir(dest / "pg_wal")->size() == 1);  // no temp file left behind
}

TEST_CASE("cellar get-wal of an absent file exits 1 with the message, an invalid name exits 2", "[wal]") {
  CellarEnv env;
  add_main(env, "");
  auto absent = env.run({"get-wal", "main", "00000003.history"});
  CHECK(absent.exit_code == 1);
  CHECK(absent.out.empty());
  CHECK(absent.err.find("ERROR: WAL file \"00000003.history\" is not in the archive of server 'main'") == 0);
  CHECK(absent.err.find("HINT: ") != std::string::npos);

  for (const char* bad : {"../../etc/passwd", "00000001000000000000000", "000000010000000000000001/x", "..",
                          "000000010000000000000001.zst", "xlog.db"}) {
    auto r = env.run({"get-wal", "main", bad});
    INFO(bad << ": " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err.find("invalid WAL file name") != std::string::npos);
  }
  CHECK(env.run({"get-wal", "nosuch", segment(1)}).exit_code == 2);
}

TEST_CASE("cellar archive-wal exits 3 naming the holder while the archive-wal lock is held", "[wal]") {
  CellarEnv env;
  add_main(env, "");
  put_file(env.server_dir("main") + "/streaming", segment(1), wal_bytes(segment(1), 1));
  auto held = locks::ArchiveWalLock::acquire(locks::file_lock_manager(env.home()), "main");
  REQUIRE(held);
  auto r = env.run({"archive-wal", "main"});
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("ERROR: another archive-wal is running for server 'main' (lock .main-archive-wal.lock held by PID " +
                   std::to_string(::getpid())) == 0);
  CHECK(path_exists(env.server_dir("main") + "/streaming/" + segment(1)));
}

TEST_CASE("cellar archive-wal takes the segment size from identity.json", "[wal]") {
  CellarEnv env;
  add_main(env, "compression = \"gzip\"\ncompression_level = 1");
  small_segments(env);
  put_file(env.server_dir("main") + "/incoming", segment(0x123, kSmallSeg),
           wal_bytes(segment(0x123, kSmallSeg), 5, kSmallSeg));
  auto r = env.run({"archive-wal", "main"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "archived 1 WAL file (1.0 MiB) for server 'main'\n");
  CHECK(env.run({"get-wal", "main", segment(0x123, kSmallSeg)}).out ==
        wal_bytes(segment(0x123, kSmallSeg), 5, kSmallSeg));
}

// Crash safety (SPEC §7): archive-wal is SIGKILLed at varying instants while
// new segments keep arriving (as from receive-wal) and duplicates are pushed
// to incoming/ (as from archive_command); a final run completes the work.
// Afterwards every segment is in wals/ exactly once, in xlog.db exactly once,
// byte-identical after get-wal, and nothing went to errors/.
TEST_CASE("archive-wal killed with SIGKILL at many instants loses nothing and duplicates nothing", "[wal]") {
  CellarEnv env;
  add_main(env, "compression = \"zstd\"");
  small_segments(env);
  const std::string dir = env.server_dir("main");
  std::map<std::string, std::string> originals;
  uint64_t next = 1;
  auto arrive = [&](int count) {
    for (int i = 0; i < count; ++i, ++next) {
      std::string name = segment(next, kSmallSeg);
      originals[name] = wal_bytes(name, next, kSmallSeg);
      put_file(dir + "/streaming", name, originals[name]);
    }
  };
  arrive(20);
  std::mt19937 rng(12345);
  int killed = 0;
  for (int round = 0; round < 40; ++round) {
    if (round % 5 == 4) {  // archive_command delivers an already-streamed segment again
      std::string again = segment(next - 3, kSmallSeg);
      put_file(dir + "/incoming", again, originals[again]);
    }
    Child child = env.spawn_cellar({"-q", "archive-wal", "main"});
    if (round == 0) {
      // The first kill waits for a catalogued segment, however slow the
      // machine: the run below is then sure to be killed after real work.
      REQUIRE(wait_until(
          [&] {
            auto db = wal::load_xlogdb(wal::xlogdb_path(dir));
            return db && !db->entries.empty();
          },
          60));
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 50000)(rng)));
    }
    child.kill(SIGKILL);
    killed += child.wait() == 128 + SIGKILL;
    arrive(3);
  }
  // The kills landed mid-run, after some work: (typically ~15 kills land
  // while compressing, a few between rename and append, ~10 before unlink).
  CHECK(killed >= 10);
  CHECK_FALSE(wal::load_xlogdb(wal::xlogdb_path(dir))->entries.empty());

  auto final_run = env.run({"archive-wal", "main"});
  INFO(final_run.err);
  REQUIRE(final_run.exit_code == 0);

  CHECK(list_dir(dir + "/streaming")->empty());
  CHECK(list_dir(dir + "/incoming")->empty());
  CHECK_FALSE(path_exists(dir + "/errors"));
  auto db = wal::load_xlogdb(wal::xlogdb_path(dir));
  REQUIRE(db);
  CHECK(db->torn_tail.empty());
  std::multiset<std::string> catalogued;
  for (const auto& e : db->entries) catalogued.insert(e.name);
  CHECK(catalogued.size() == originals.size());
  std::set<std::string> stored;
  auto hashes = list_dir(dir + "/wals");
  REQUIRE(hashes);
  for (const auto& hash : *hashes) {
    if (hash == "xlog.db") continue;
    auto files = list_dir(dir + "/wals/" + hash);
    REQUIRE(files);
    for (const auto& f : *files) {
      INFO(f);
      CHECK(codec::codec_of_suffix(f) == codec::Codec::zstd);  // no .tmp left, no second copy
      stored.insert(f.substr(0, f.size() - 4));
    }
  }
  CHECK(stored.size() == originals.size());
  TempDir out;
  for (const auto& [name, bytes] : originals) {
    INFO(name);
    CHECK(catalogued.count(name) == 1);
    CHECK(stored.count(name) == 1);
    REQUIRE(wal::get_wal({"main", dir, name, out.path()}));
    CHECK(read_text(out / name) == bytes);
  }
}

TEST_CASE("get-wal --parallel fetches the next segments into the spool and serves them from there", "[wal]") {
  CellarEnv env;
  add_main(env, "compression = \"zstd\"");
  const std::string streaming = env.server_dir("main") + "/streaming";
  for (uint64_t s = 1; s <= 5; ++s) put_file(streaming, segment(s), wal_bytes(segment(s), s));
  REQUIRE(env.run({"archive-wal", "main"}).exit_code == 0);
  const std::string prefetch = env.server_dir("main") + "/get-wal-prefetch";
  auto first = env.run({"get-wal", "main", segment(1), "--parallel", "3"});
  REQUIRE(first.exit_code == 0);
  CHECK(first.out == wal_bytes(segment(1), 1));
  auto names = list_dir(prefetch);
  REQUIRE(names);
  CHECK(*names == std::vector<std::string>{segment(2), segment(3)});
  // Served from the spool: the archive's copy is not read any more.
  std::string archived = env.server_dir("main") + "/wals/" + segment(2).substr(0, 16) + "/" + segment(2) + ".zst";
  REQUIRE(::unlink(archived.c_str()) == 0);
  auto second = env.run({"get-wal", "main", segment(2), "--parallel", "3", "--output-directory", prefetch + "-out"});
  REQUIRE(second.exit_code == 0);
  CHECK(read_text(prefetch + "-out/" + segment(2)) == wal_bytes(segment(2), 2));
  names = list_dir(prefetch);
  REQUIRE(names);
  CHECK(*names == std::vector<std::string>{segment(3), segment(4)});
  // A request further on drops what recovery moved past; a missing next one is no error.
  auto fifth = env.run({"get-wal", "main", segment(5), "--parallel", "4"});
  REQUIRE(fifth.exit_code == 0);
  CHECK(fifth.out == wal_bytes(segment(5), 5));
  names = list_dir(prefetch);
  REQUIRE(names);
  CHECK(names->empty());
  // Absent stays absent, and the option is checked.
  CHECK(env.run({"get-wal", "main", segment(9), "--parallel", "2"}).exit_code == 1);
  CHECK(env.run({"get-wal", "main", segment(1), "--parallel", "0"}).exit_code == 2);
  CHECK(env.run({"get-wal", "main", segment(1), "--parallel", "65"}).exit_code == 2);
}
