// recover against a real PostgreSQL 15, driving the real binary: one primary
// with pgbench data and a tablespace, one backup (WAL streamed by a real
// `cellar receive-wal` child), then targets recorded under more load, each
// with a checksum of every pgbench table at that instant. Each recovery is
// started as a PostgreSQL server of its own, replays to its target, promotes,
// and must hold exactly the recorded data. The primary, the receiver and
// every restored server are stopped by RAII, also when a check fails.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>

#include "catalog/backup_info.h"
#include "common/fs.h"
#include "locks/lock_file.h"
#include "locks/lock_names.h"
#include "pg/connection.h"
#include "support/cellar_env.h"
#include "support/pause_listener.h"
#include "support/pg_server.h"
#include "support/restored.h"

using namespace cellar;
using namespace cellar::test;

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

const char* const kChecksums = kPgbenchChecksums;

struct Mark {
  std::string value;  // the target
  std::string sums;   // kChecksums at that instant
};

// The primary, its cellar, its backup and the targets recorded after it.
struct Fixture {
  std::unique_ptr<PgServer> pg;  // declared first: stopped last
  std::unique_ptr<CellarEnv> env = std::make_unique<CellarEnv>();
  Child receiver;
  std::string id;
  catalog::BackupInfo info;
  Mark xid, time, lsn, name;
  std::string latest_sums;

  ~Fixture() {
    if (receiver.pid() > 0) env->run({"receive-wal", "--stop", "main"});
  }
  RunResult run(const std::vector<std::string>& args) const { return env->run(args); }
  std::string sums() const { return trim(pg->psql(kChecksums)); }
  void pgbench(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{pg_bindir() + "/pgbench",   "-h", pg->socket_dir(), "-p",
                                  std::to_string(pg->port()), "-U", "postgres"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("postgres");
    auto r = run_program(argv);
    if (r.exit_code != 0) throw std::runtime_error("pgbench failed: " + r.err);
  }
  void load() const { pgbench({"-t", "150", "-c", "2", "-n"}); }
};

void start_primary(Fixture& f) {
  f.pg = PgServer::start();
  f.pgbench({"-i", "-s", "1", "-q"});
  f.pg->create_tablespace("tbs1");
  f.pg->psql("CREATE TABLE spc_data TABLESPACE tbs1 AS SELECT g, md5(g::text) AS h FROM generate_series(1, 5000) g");
  // Restored as "#CELLAR# archive_command = ..." (archive_mode stays off).
  f.pg->psql("ALTER SYSTEM SET archive_command = 'true'");
  f.env->add_server("main", f.pg->conninfo(), "slot_name = \"cellar_rec\"\ncompression = \"lz4\"\nparallel_jobs = 2");
  auto slot = f.run({"receive-wal", "--create-slot", "main"});
  if (slot.exit_code != 0) throw std::runtime_error("create-slot failed: " + slot.err);
  f.receiver = f.env->spawn_cellar({"receive-wal", "main"});
  std::string lock = f.env->home() + "/" + locks::make_lock_file_name({locks::LockKind::receive_wal, "main", ""});
  if (!wait_until([&] { return locks::LockFile(lock).owner_pid().has_value(); }, 10))
    throw std::runtime_error("receive-wal did not start");
}

void take_backup(Fixture& f) {
  auto r = f.run({"backup", "main", "--wait", "--wait-timeout", "60", "--no-progress", "--immediate-checkpoint"});
  if (r.exit_code != 0 || r.out.find(" is DONE") == std::string::npos)
    throw std::runtime_error("backup failed: " + r.out + r.err);
  f.id = r.out.substr(r.out.find("Backup ") + 7, 15);
  auto info = catalog::load_backup_info(f.env->server_dir("main") + "/base/" + f.id);
  if (!info) throw std::runtime_error(info.status().to_string());
  f.info = *info;
}

void archive_all(Fixture& f);

// Load, then a quiet instant recorded as each kind of target, then load.
void record_targets(Fixture& f) {
  f.load();
  f.xid = {trim(f.pg->psql("SELECT txid_current()")), f.sums()};
  f.load();
  f.time = {trim(f.pg->psql("SELECT clock_timestamp()")), f.sums()};
  f.load();
  f.lsn = {trim(f.pg->psql("SELECT pg_current_wal_lsn()")), f.sums()};
  f.load();
  f.pg->psql("SELECT pg_create_restore_point('before_the_last_load')");
  f.name = {"before_the_last_load", f.sums()};
  f.load();
  f.latest_sums = f.sums();
  archive_all(f);
}

// Closes the current segment and archives it (what cron does every minute).
void archive_all(Fixture& f) {
  auto sw = f.run({"switch-wal", "main"});
  size_t pos = sw.out.find("The WAL file ");
  if (sw.exit_code != 0 || pos == std::string::npos) throw std::runtime_error("switch-wal failed: " + sw.out + sw.err);
  std::string segment = sw.out.substr(pos + 13, 24);
  std::string wals = f.env->server_dir("main") + "/wals/" + segment.substr(0, 16) + "/" + segment;
  bool archived = wait_until(
      [&] {
        f.run({"archive-wal", "main"});
        return path_exists(wals) || path_exists(wals + ".lz4");
      },
      30);
  if (!archived) throw std::runtime_error("segment " + segment + " was not archived");
}

// Built once per process; a failure is remembered, not retried per test case.
Fixture& fixture() {
  static std::string failure;
  if (!failure.empty()) throw std::runtime_error("the fixture failed earlier: " + failure);
  try {
    static std::unique_ptr<Fixture> f = [] {
      auto p = std::make_unique<Fixture>();
      start_primary(*p);
      take_backup(*p);
      record_targets(*p);
      return p;
    }();
    return *f;
  } catch (const std::exception& e) {
    failure = e.what();
    throw;
  }
}

// recover SERVER BACKUP DEST --tablespace tbs1:<tbs> extra...
RunResult recover_fixture(const Restored& r, const Fixture& f, const std::vector<std::string>& extra) {
  std::vector<std::string> args{"--tablespace", "tbs1:" + r.tbs};
  args.insert(args.end(), extra.begin(), extra.end());
  return r.recover(*f.env, "main", f.id, args);
}

// recover with `extra`, start PostgreSQL on it, compare with `want`.
void recover_and_compare(const Fixture& f, const std::vector<std::string>& extra, const std::string& want) {
  Restored r;
  auto out = recover_fixture(r, f, extra);
  INFO(out.out << out.err);
  REQUIRE(out.exit_code == 0);
  CHECK(out.out.find("pg_ctl -D " + r.dest) != std::string::npos);
  CHECK(path_exists(r.dest + "/recovery.signal"));
  r.start();
  CHECK(r.promoted_sums() == want);
}

}  // namespace

TEST_CASE("a recovered backup replays exactly to the requested target", "[recover][pg]") {
  Fixture& f = fixture();
  REQUIRE(f.xid.sums != f.time.sums);
  REQUIRE(f.name.sums != f.latest_sums);

  SECTION("a transaction id") {
    recover_and_compare(f, {"--target-xid", f.xid.value, "--target-action", "promote"}, f.xid.sums);
  }
  SECTION("a time") {
    recover_and_compare(f, {"--target-time", f.time.value, "--target-action", "promote", "--jobs", "1"}, f.time.sums);
  }
  SECTION("an LSN") { recover_and_compare(f, {"--target-lsn", f.lsn.value, "--target-action", "promote"}, f.lsn.sums); }
  SECTION("a named restore point") {
    recover_and_compare(f, {"--target-name", f.name.value, "--target-action", "promote"}, f.name.sums);
  }
  SECTION("no target: all the archived WAL, with the tablespace relocated") {
    Restored r;
    auto out = recover_fixture(r, f, {"--jobs", "2"});
    INFO(out.out << out.err);
    REQUIRE(out.exit_code == 0);
    const auto& spcs = f.info.tablespaces;
    REQUIRE(spcs.size() == 1);
    std::string link = r.dest + "/pg_tblspc/" + std::to_string(spcs[0].oid);
    CHECK(std::filesystem::read_symlink(link).string() == r.tbs);
    CHECK_FALSE(list_dir(r.tbs)->empty());
    CHECK(read_text(r.dest + "/PG_VERSION") == "15\n");
    CHECK(read_text(r.dest + "/postgresql.auto.conf").find("#CELLAR# archive_command = 'true'") != std::string::npos);
    CHECK(path_exists(r.dest + "/postgresql.auto.conf.origin"));
    CHECK(path_exists(r.dest + "/cellar_wal/" + f.info.begin_wal));
    r.start();
    CHECK(r.promoted_sums() == f.latest_sums);
    CHECK(r.query("SELECT count(*) FROM spc_data") == "5000");
    CHECK(r.query("SELECT pg_tablespace_location(oid) FROM pg_tablespace WHERE spcname = 'tbs1'") == r.tbs);
    CHECK(r.query("SELECT setting FROM pg_file_settings WHERE name = 'archive_command' AND applied") == "false");
  }
}

TEST_CASE("recover refuses bad requests before writing anything", "[recover][pg]") {
  Fixture& f = fixture();
  TempDir tmp;
  std::string dest = tmp / "dest";

  SECTION("a non-empty destination is left untouched (exit 2)") {
    REQUIRE(make_dirs(dest));
    write_text(dest + "/keep.me", "precious");
    auto r = f.run({"recover", "main", "latest", dest, "--tablespace", "tbs1:" + tmp / "tbs"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("is not empty") != std::string::npos);
    CHECK(*list_dir(dest) == std::vector<std::string>{"keep.me"});
    CHECK(read_text(dest + "/keep.me") == "precious");
    CHECK_FALSE(path_exists(tmp / "tbs"));
  }
  SECTION("a target time before the end of the backup") {
    auto r = f.run({"recover", "main", f.id, dest, "--target-time", "2001-01-01 00:00:00+00"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("is before the end time") != std::string::npos);
    CHECK_FALSE(path_exists(dest));
  }
  SECTION("a target LSN before the end of the backup") {
    auto r = f.run({"recover", "main", f.id, dest, "--target-lsn", "0/1"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("is before the end LSN") != std::string::npos);
    CHECK_FALSE(path_exists(dest));
  }
  SECTION("two targets, a bad relocation rule, an unknown tablespace, an action without a target") {
    CHECK(f.run({"recover", "main", f.id, dest, "--target-xid", "5", "--target-name", "x"}).exit_code == 2);
    CHECK(f.run({"recover", "main", f.id, dest, "--tablespace", "tbs1"}).exit_code == 2);
    CHECK(f.run({"recover", "main", f.id, dest, "--tablespace", "nosuch:/tmp/x"}).exit_code == 2);
    CHECK(f.run({"recover", "main", f.id, dest, "--target-action", "promote"}).exit_code == 2);
    CHECK_FALSE(path_exists(dest));
  }
  SECTION("the original tablespace location is in use by the primary") {
    auto r = f.run({"recover", "main", f.id, dest});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("location of tablespace 'tbs1'") != std::string::npos);
    CHECK_FALSE(path_exists(dest));
  }
}

// Replaces one stored file of the backup with garbage, and puts it back.
struct CorruptedFile {
  std::string path;
  std::string saved = read_text(path);
  explicit CorruptedFile(std::string p) : path(std::move(p)) { write_text(path, "this is not lz4 data"); }
  ~CorruptedFile() { write_text(path, saved); }
};

TEST_CASE("a recover that fails while copying leaves DEST and the tablespace location as it found them",
          "[recover][pg]") {
  Fixture& f = fixture();
  std::string stored = f.env->server_dir("main") + "/base/" + f.id + "/data/PG_VERSION.lz4";
  REQUIRE(path_exists(stored));
  CorruptedFile corrupt(stored);
  TempDir tmp;
  auto recover = [&](const std::string& dest, const std::string& tbs) {
    auto r = f.run({"recover", "main", f.id, dest, "--tablespace", "tbs1:" + tbs, "--no-progress", "--jobs", "2"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("PG_VERSION") != std::string::npos);
    CHECK(r.err.find("\nDETAIL: \"" + dest + "\" and \"" + tbs + "\" were left as they were found\n") !=
          std::string::npos);
  };

  SECTION("absent ones are removed again, with the parent recover created") {
    recover(tmp / "new/data", tmp / "tbs");
    CHECK_FALSE(path_exists(tmp / "new"));
    CHECK_FALSE(path_exists(tmp / "tbs"));
  }
  SECTION("empty ones are emptied again and keep their mode") {
    REQUIRE(make_dirs(tmp / "data"));
    REQUIRE(make_dirs(tmp / "tbs"));
    REQUIRE(::chmod((tmp / "data").c_str(), 0750) == 0);
    recover(tmp / "data", tmp / "tbs");
    CHECK(list_dir(tmp / "data")->empty());
    CHECK(list_dir(tmp / "tbs")->empty());
    struct stat sb {};
    REQUIRE(::stat((tmp / "data").c_str(), &sb) == 0);
    CHECK((sb.st_mode & 0777) == 0750);
  }
}

TEST_CASE("recover with --get-wal and --standby-mode writes a get-wal restore_command and standby.signal",
          "[recover][pg]") {
  Fixture& f = fixture();
  TempDir tmp;
  std::string dest = tmp / "dest";
  auto r = f.run({"recover", "main", "latest", dest, "--tablespace", "tbs1:" + tmp / "tbs", "--get-wal",
                  "--standby-mode", "--target-name", "x", "--target-action", "shutdown"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(path_exists(dest + "/standby.signal"));
  CHECK_FALSE(path_exists(dest + "/recovery.signal"));
  CHECK_FALSE(path_exists(dest + "/cellar_wal"));
  std::string conf = read_text(dest + "/postgresql.auto.conf");
  CHECK(conf.find(" -c " + f.env->config() + " get-wal main %f > %p'") != std::string::npos);
  CHECK(conf.find("restore_command = '/") != std::string::npos);
  CHECK(conf.find("recovery_target_name = 'x'") != std::string::npos);
  CHECK(conf.find("recovery_target_action = 'shutdown'") != std::string::npos);
  CHECK(conf.find("recovery_target_timeline = 'latest'") != std::string::npos);
  CHECK(conf.find("\narchive_command = 'false'") != std::string::npos);
  struct stat sb {};
  REQUIRE(::stat(dest.c_str(), &sb) == 0);
  CHECK((sb.st_mode & 0777) == 0700);
}

TEST_CASE("delete of a backup is refused as busy while recover holds it", "[recover][pg]") {
  Fixture& f = fixture();
  TempDir tmp;
  // Held still while it copies: the delete meets a held lock.
  PauseListener paused("recover-copying");
  Child child = f.env->spawn_cellar(
      {"recover", "main", f.id, tmp / "dest", "--tablespace", "tbs1:" + tmp / "tbs", "--no-progress"}, {paused.env()});
  auto pid = paused.wait_reached();
  REQUIRE(pid);
  REQUIRE(*pid == child.pid());
  std::string lock = f.env->home() + "/" + locks::make_lock_file_name({locks::LockKind::backup_id, "main", f.id});
  CHECK(locks::LockFile(lock).owner_pid() == child.pid());
  auto del = f.run({"delete", "main", f.id});
  paused.release();
  CHECK(child.wait() == 0);
  INFO(del.out << del.err);
  CHECK(del.exit_code == 3);
  CHECK(del.err.find("held by PID " + std::to_string(child.pid())) != std::string::npos);
  CHECK(path_exists(f.env->server_dir("main") + "/base/" + f.id + "/backup.info"));
}
