// switch-wal --archive: the wait archives the closed segment itself
// (in-process on synthetic WAL, and end to end against a real PostgreSQL 15
// with a real receive-wal and no cron), leaves it to a busy archive-wal, and
// says on a timeout whether receive-wal runs.
#include "wal/switch_wal.h"

#include <unistd.h>

#include <catch2/catch.hpp>

#include "common/fs.h"
#include "locks/lock_backend.h"
#include "locks/typed_lock.h"
#include "support/cellar_env.h"
#include "support/pg_server.h"
#include "wal/wal_store.h"
#include "wal/xlogdb.h"
#include "wal_fixture.h"

using namespace cellar;
using namespace cellar::wal;
using namespace cellar::test;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  TempDir dir;
  ArchiveOptions options;
  Fixture() {
    options.server = "main";
    options.server_dir = dir / "main";
    options.locks = &locks::file_lock_manager(dir.path());
    options.compression = codec::Codec::zstd;
  }
  std::string streaming() const { return options.server_dir + "/streaming"; }
  void receive(const std::string& name) const { put_file(streaming(), name, wal_bytes(name, 7)); }
};

bool in_xlogdb(const std::string& server_dir, const std::string& name) {
  auto db = load_xlogdb(xlogdb_path(server_dir));
  REQUIRE(db);
  for (const auto& e : db->entries)
    if (e.name == name) return true;
  return false;
}

}  // namespace

TEST_CASE("waiting for a segment archives it from streaming/ without cron", "[wal]") {
  Fixture f;
  f.receive(segment(3));
  Status st = wait_archived(f.options, segment(3), 5s);
  INFO(st.to_string());
  REQUIRE(st);
  CHECK(is_archived(f.options.server_dir, segment(3)));
  CHECK(in_xlogdb(f.options.server_dir, segment(3)));
  CHECK_FALSE(path_exists(f.streaming() + "/" + segment(3)));
}

TEST_CASE("waiting for a segment while another archive-wal holds its lock leaves the archiving to that one", "[wal]") {
  Fixture f;
  f.receive(segment(4));
  {
    auto held = locks::ArchiveWalLock::acquire(*f.options.locks, "main");
    REQUIRE(held);
    Status st = wait_archived(f.options, segment(4), 1s);
    CHECK(st.code() == ErrorCode::failed);  // a timeout, not busy (exit 3)
    CHECK(st.message() == "WAL file " + segment(4) + " of server 'main' was not archived within 1 s");
    CHECK(path_exists(f.streaming() + "/" + segment(4)));
  }
  CHECK(wait_archived(f.options, segment(4), 5s));
  CHECK(in_xlogdb(f.options.server_dir, segment(4)));
}

TEST_CASE("a segment that never arrives times out with a hint on whether receive-wal runs", "[wal]") {
  Fixture f;
  SECTION("none runs") {
    Status st = wait_archived(f.options, segment(5), 1s);
    CHECK(st.code() == ErrorCode::failed);
    CHECK(st.hint().rfind("no receive-wal is running for server 'main': start it ('cellar receive-wal main'", 0) == 0);
  }
  SECTION("one runs") {
    auto receiver = locks::ReceiveWalLock::acquire(*f.options.locks, "main");
    REQUIRE(receiver);
    Status st = wait_archived(f.options, segment(5), 1s);
    CHECK(st.code() == ErrorCode::failed);
    CHECK(st.hint().rfind("receive-wal runs (PID " + std::to_string(::getpid()) + ") but the segment did not reach",
                          0) == 0);
  }
}

TEST_CASE("an archive-wal failure ends the wait at once with its error", "[wal]") {
  Fixture f;
  f.receive(segment(6));
  put_file(f.options.server_dir + "/wals/0000000100000000", segment(6) + ".zst", "not zstd at all");
  Status st = wait_archived(f.options, segment(6), 30s);
  CHECK(st.code() == ErrorCode::failed);
  CHECK(st.message().rfind("archive-wal failed while waiting for WAL file " + segment(6) + ": ", 0) == 0);
}

TEST_CASE("switch-wal --force --archive right after set-up archives the segment with receive-wal running and no cron",
          "[wal][pg]") {
  PgServer& pg = shared_pg();
  CellarEnv env;
  env.add_server("main", pg.conninfo(), "slot_name = \"switch_archive\"\ncompression = \"zstd\"");
  // The slot first: receive-wal streams from its restart_lsn, so the switch
  // below cannot happen before the position it starts at.
  auto slot = env.run({"receive-wal", "--create-slot", "main"});
  INFO(slot.err);
  REQUIRE(slot.exit_code == 0);
  Child receiver = env.spawn_cellar({"receive-wal", "main"});
  auto r = env.run({"switch-wal", "--force", "--archive", "--archive-timeout", "60", "main"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  auto pos = r.out.find("The WAL file ");
  REQUIRE(pos != std::string::npos);
  std::string closed = r.out.substr(pos + 13, 24);
  CHECK(r.out.find("The WAL file " + closed + " has been archived for server 'main'") != std::string::npos);
  CHECK(is_archived(env.server_dir("main"), closed));
  CHECK(in_xlogdb(env.server_dir("main"), closed));
  CHECK(env.run({"receive-wal", "--stop", "main"}).exit_code == 0);
  receiver.wait();
  pg.psql("SELECT pg_drop_replication_slot('switch_archive')");
}

TEST_CASE("switch-wal --archive without receive-wal times out with a hint to start it", "[wal][pg]") {
  PgServer& pg = shared_pg();
  CellarEnv env;
  env.add_server("main", pg.conninfo());
  auto r = env.run({"switch-wal", "--force", "--archive", "--archive-timeout", "1", "main"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("ERROR: WAL file ") != std::string::npos);
  CHECK(r.err.find(" of server 'main' was not archived within 1 s\n") != std::string::npos);
  CHECK(r.err.find("HINT: no receive-wal is running for server 'main': start it ('cellar receive-wal main'") !=
        std::string::npos);
}
