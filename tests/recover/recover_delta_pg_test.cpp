// recover --delta against a real PostgreSQL 15, driving the real binary: one
// primary with pgbench data and a tablespace, one backup (WAL streamed by a
// real `cellar receive-wal` child) and a transaction id recorded after more
// load. A plain restore of the backup is damaged by hand, then brought back
// by --delta (once failing half-way, once completing), started, and must hold
// exactly the data at the target; the refusals leave DEST untouched.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <regex>

#include "common/fs.h"
#include "locks/lock_file.h"
#include "locks/lock_names.h"
#include "support/cellar_env.h"
#include "support/pg_server.h"
#include "support/pg_workload.h"
#include "support/restored.h"

using namespace cellar;
using namespace cellar::test;

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

struct Fixture {
  std::unique_ptr<PgServer> pg;  // declared first: stopped last
  std::unique_ptr<CellarEnv> env = std::make_unique<CellarEnv>();
  Child receiver;
  std::string id, systemid;
  std::string xid, xid_sums;                      // the target, kPgbenchChecksums there
  std::string accounts, branches, accounts_pkey;  // pg_relation_filepath of each

  ~Fixture() {
    if (receiver.pid() > 0) env->run({"receive-wal", "--stop", "main"});
  }
  RunResult run(const std::vector<std::string>& args) const { return env->run(args); }
  std::string sql(const std::string& q) const { return trim(pg->psql(q)); }
  void pgbench(const std::vector<std::string>& args) const { run_pgbench(*pg, args); }
  std::string stored(const std::string& relpath) const {
    return env->server_dir("main") + "/base/" + id + "/data/" + relpath + ".lz4";
  }
};

void start_primary(Fixture& f) {
  f.pg = PgServer::start();
  f.pgbench({"-i", "-s", "1", "-q"});
  f.pg->create_tablespace("tbs1");
  f.pg->psql("CREATE TABLE spc_data TABLESPACE tbs1 AS SELECT g, md5(g::text) AS h FROM generate_series(1, 5000) g");
  f.env->add_server("main", f.pg->conninfo(), "slot_name = \"cellar_delta\"\ncompression = \"lz4\"\nparallel_jobs = 2");
  auto slot = f.run({"receive-wal", "--create-slot", "main"});
  if (slot.exit_code != 0) throw std::runtime_error("create-slot failed: " + slot.err);
  f.receiver = f.env->spawn_cellar({"receive-wal", "main"});
  std::string lock = f.env->home() + "/" + locks::make_lock_file_name({locks::LockKind::receive_wal, "main", ""});
  if (!wait_until([&] { return locks::LockFile(lock).owner_pid().has_value(); }, 10))
    throw std::runtime_error("receive-wal did not start");
  f.accounts = f.sql("SELECT pg_relation_filepath('pgbench_accounts')");
  f.branches = f.sql("SELECT pg_relation_filepath('pgbench_branches')");
  f.accounts_pkey = f.sql("SELECT pg_relation_filepath('pgbench_accounts_pkey')");
  f.systemid = f.sql("SELECT system_identifier FROM pg_control_system()");
}

void take_backup(Fixture& f) {
  auto r = f.run({"backup", "main", "--wait", "--wait-timeout", "60", "--no-progress", "--immediate-checkpoint"});
  if (r.exit_code != 0 || r.out.find(" is DONE") == std::string::npos)
    throw std::runtime_error("backup failed: " + r.out + r.err);
  f.id = r.out.substr(r.out.find("Backup ") + 7, 15);
}

// Load, the target, more load, everything archived.
void record_target(Fixture& f) {
  f.pgbench({"-t", "150", "-c", "2", "-n"});
  f.xid = f.sql("SELECT txid_current()");
  f.xid_sums = f.sql(kPgbenchChecksums);
  f.pgbench({"-t", "150", "-c", "2", "-n"});
  archive_current_wal(*f.env);
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
      record_target(*p);
      return p;
    }();
    return *f;
  } catch (const std::exception& e) {
    failure = e.what();
    throw;
  }
}

RunResult recover_into(const Restored& r, const Fixture& f, const std::vector<std::string>& extra) {
  std::vector<std::string> args{"--tablespace", "tbs1:" + r.tbs};
  args.insert(args.end(), extra.begin(), extra.end());
  return r.recover(*f.env, "main", f.id, args);
}

// Writes `bytes` at `offset` of `path`, which must exist.
void overwrite(const std::string& path, off_t offset, const std::string& bytes) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  REQUIRE(fd.valid());
  REQUIRE(::pwrite(fd.get(), bytes.data(), bytes.size(), offset) == static_cast<ssize_t>(bytes.size()));
}

time_t mtime_of(const std::string& path) {
  struct stat sb {};
  REQUIRE(::stat(path.c_str(), &sb) == 0);
  return sb.st_mtime;
}

struct DeltaLine {
  size_t unchanged = 0, rewritten = 0, removed = 0;
  std::string written;  // "24.0 KiB"
};

DeltaLine delta_line(const std::string& out) {
  std::smatch m;
  REQUIRE(std::regex_search(
      out, m, std::regex(R"(Delta: (\d+) files unchanged, (\d+) rewritten \(([^)]*) written\), (\d+) removed)")));
  return {std::stoul(m[1]), std::stoul(m[2]), std::stoul(m[4]), m[3]};
}

// Replaces one stored file of the backup with garbage, and puts it back.
struct CorruptedFile {
  std::string path;
  std::string saved = read_text(path);
  explicit CorruptedFile(std::string p) : path(std::move(p)) { write_text(path, "this is not lz4 data"); }
  ~CorruptedFile() { write_text(path, saved); }
};

}  // namespace

TEST_CASE("recover --delta brings a damaged restore back to the backup writing only what differs",
          "[recover][pg][delta]") {
  Fixture& f = fixture();
  Restored r;
  auto plain = recover_into(r, f, {});
  INFO(plain.out << plain.err);
  REQUIRE(plain.exit_code == 0);
  // The damage: pgbench_branches gone; garbage over three blocks of
  // pgbench_accounts and strays in DEST, pg_wal and the tablespace location
  // come after the failed run (which may already repair what it reaches
  // before it fails).
  REQUIRE(::unlink((r.dest + "/" + f.branches).c_str()) == 0);
  std::string pkey = r.dest + "/" + f.accounts_pkey;
  struct utimbuf old {
    1000000000, 1000000000
  };
  REQUIRE(::utime(pkey.c_str(), &old) == 0);
  std::vector<std::string> target{"--delta", "--target-xid", f.xid, "--target-action", "promote"};

  {
    // A failure half-way leaves DEST without pg_control and says how to finish.
    CorruptedFile corrupt(f.stored(f.branches));
    auto failed = recover_into(r, f, target);
    INFO(failed.out << failed.err);
    CHECK(failed.exit_code == 1);
    CHECK(failed.err.find("\nDETAIL: \"" + r.dest + "\" is left half-restored, without global/pg_control") !=
          std::string::npos);
    CHECK(failed.err.find("running the same 'cellar recover --delta' again completes it") != std::string::npos);
    CHECK_FALSE(path_exists(r.dest + "/global/pg_control"));
    CHECK(path_exists(r.dest + "/global/pg_control.cellar-delta"));
  }
  overwrite(r.dest + "/" + f.accounts, 5 * 8192, std::string(3 * 8192, 'x'));
  write_text(r.dest + "/base/1/99999", "stray");
  REQUIRE(make_dirs(r.dest + "/stray_dir/inner"));
  write_text(r.dest + "/stray_dir/inner/file", "stray");
  write_text(r.dest + "/pg_wal/000000010000000000000001", std::string(8192, 'w'));
  write_text(r.tbs + "/stray", "stray");

  auto delta = recover_into(r, f, target);
  INFO(delta.out << delta.err);
  REQUIRE(delta.exit_code == 0);
  DeltaLine counts = delta_line(delta.out);
  CHECK(counts.unchanged > 500);
  CHECK(counts.rewritten >= 3);  // pgbench_accounts, pgbench_branches, pg_control at least
  CHECK(counts.rewritten <= 10);
  // Only what differs: the three damaged blocks, the small files around
  // them, never whole relation files (the accounts file alone is MiBs).
  INFO(counts.written);
  CHECK((counts.written.find(" KiB") != std::string::npos || counts.written.find(" B") != std::string::npos));
  CHECK(counts.removed >= 4);
  CHECK_FALSE(path_exists(r.dest + "/base/1/99999"));
  CHECK_FALSE(path_exists(r.dest + "/stray_dir"));
  CHECK_FALSE(path_exists(r.dest + "/pg_wal/000000010000000000000001"));
  CHECK_FALSE(path_exists(r.tbs + "/stray"));
  CHECK_FALSE(path_exists(r.dest + "/global/pg_control.cellar-delta"));
  CHECK(path_exists(r.dest + "/global/pg_control"));
  CHECK(path_exists(r.dest + "/" + f.branches));
  CHECK(path_exists(r.dest + "/recovery.signal"));
  CHECK(mtime_of(pkey) == 1000000000);  // unchanged: not rewritten
  std::string conf = read_text(r.dest + "/postgresql.auto.conf");
  CHECK(conf.find("recovery_target_xid = '" + f.xid + "'") != std::string::npos);
  CHECK(conf.find("# written by cellar recover") == conf.rfind("# written by cellar recover"));
  std::string link = r.dest + "/pg_tblspc/" + f.sql("SELECT oid FROM pg_tablespace WHERE spcname = 'tbs1'");
  CHECK(std::filesystem::read_symlink(link).string() == r.tbs);

  r.start();
  CHECK(r.promoted_sums() == f.xid_sums);
  CHECK(r.query("SELECT count(*) FROM spc_data") == "5000");
  auto stop = run_as_postgres({pg_bindir() + "/pg_ctl", "stop", "-D", r.dest, "-m", "fast", "-w"});
  REQUIRE(stop.exit_code == 0);
  r.started = false;
  auto sums = run_as_postgres({pg_bindir() + "/pg_checksums", "--check", "-D", r.dest});
  INFO(sums.out << sums.err);
  CHECK(sums.exit_code == 0);
}

TEST_CASE("recover --delta refuses a DEST that is no data directory, is running or of another cluster",
          "[recover][pg][delta]") {
  Fixture& f = fixture();
  TempDir tmp;

  // No data directory: a usage error, nothing touched.
  std::string other = tmp / "other";
  REQUIRE(make_dirs(other));
  write_text(other + "/keep.me", "precious");
  auto none = f.run({"recover", "main", f.id, other, "--delta", "--tablespace", "tbs1:" + tmp / "tbs0"});
  CHECK(none.exit_code == 2);
  CHECK(none.err.find("ERROR: \"" + other + "\" is not a PostgreSQL data directory") != std::string::npos);
  CHECK(none.err.find("HINT: ") != std::string::npos);
  CHECK(*list_dir(other) == std::vector<std::string>{"keep.me"});
  CHECK_FALSE(path_exists(tmp / "tbs0"));

  Restored r;
  auto plain = recover_into(r, f, {});
  INFO(plain.out << plain.err);
  REQUIRE(plain.exit_code == 0);
  write_text(r.dest + "/keep.me", "precious");
  auto untouched = [&] {
    CHECK(read_text(r.dest + "/keep.me") == "precious");
    CHECK(path_exists(r.dest + "/global/pg_control"));
    CHECK_FALSE(path_exists(r.dest + "/global/pg_control.cellar-delta"));
  };

  // PostgreSQL running on it: postmaster.pid names a live process (this one).
  std::string pid = std::to_string(::getpid());
  write_text(r.dest + "/postmaster.pid", pid + "\n" + r.dest + "\n");
  auto running = recover_into(r, f, {"--delta"});
  CHECK(running.exit_code == 1);
  CHECK(running.err.find("PostgreSQL is running on \"" + r.dest + "\" (postmaster.pid names PID " + pid + ")") !=
        std::string::npos);
  untouched();
  REQUIRE(::unlink((r.dest + "/postmaster.pid").c_str()) == 0);

  // Another cluster: the control file's system identifier differs.
  std::string control = r.dest + "/global/pg_control";
  std::string saved = read_text(control);
  overwrite(control, 0, std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  auto foreign = recover_into(r, f, {"--delta"});
  CHECK(foreign.exit_code == 2);
  CHECK(foreign.err.find("belongs to database system 578437695752307201, the backup to " + f.systemid) !=
        std::string::npos);
  untouched();
  CHECK(read_text(control).substr(0, 8) == "\x01\x02\x03\x04\x05\x06\x07\x08");
  write_text(control, saved);

  // Without --delta the same DEST is still refused as not empty.
  auto without = recover_into(r, f, {});
  CHECK(without.exit_code == 2);
  CHECK(without.err.find("is not empty") != std::string::npos);
  untouched();
}

TEST_CASE("recover --delta of an incremental chain's end over a restore of its full backup", "[recover][pg][delta]") {
  Fixture& f = fixture();
  f.pgbench({"-t", "200", "-c", "2", "-n"});
  std::string want = f.sql(kPgbenchChecksums);
  auto inc = f.run(
      {"backup", "main", "--incremental", "--wait", "--wait-timeout", "60", "--no-progress", "--immediate-checkpoint"});
  INFO(inc.out << inc.err);
  REQUIRE(inc.exit_code == 0);
  REQUIRE(inc.out.find(" is DONE") != std::string::npos);
  std::string id = inc.out.substr(inc.out.find("Backup ") + 7, 15);
  REQUIRE(id != f.id);
  REQUIRE(read_text(f.env->server_dir("main") + "/base/" + id + "/backup.info").find("parent_backup_id=" + f.id) !=
          std::string::npos);

  Restored r;
  auto plain = recover_into(r, f, {});
  INFO(plain.out << plain.err);
  REQUIRE(plain.exit_code == 0);
  std::vector<std::string> args{"--tablespace",       "tbs1:" + r.tbs,   "--delta",
                                "--target-immediate", "--target-action", "promote"};
  auto first = r.recover(*f.env, "main", id, args);
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  DeltaLine one = delta_line(first.out);
  CHECK(one.rewritten > 3);
  CHECK(one.rewritten < one.unchanged);
  // Again: the combined files are compared, none is written.
  auto again = r.recover(*f.env, "main", id, args);
  INFO(again.out << again.err);
  REQUIRE(again.exit_code == 0);
  DeltaLine two = delta_line(again.out);
  CHECK(two.rewritten <= 2);  // pg_control and postgresql.auto.conf (which cellar edits)
  CHECK(two.removed == 0);

  r.start();
  CHECK(r.promoted_sums() == want);
  auto stop = run_as_postgres({pg_bindir() + "/pg_ctl", "stop", "-D", r.dest, "-m", "fast", "-w"});
  REQUIRE(stop.exit_code == 0);
  r.started = false;
  auto sums = run_as_postgres({pg_bindir() + "/pg_checksums", "--check", "-D", r.dest});
  INFO(sums.out << sums.err);
  CHECK(sums.exit_code == 0);
}

TEST_CASE(
    "recover --delta over cellar's own restore trusts its stamp, reads the blocks the WAL changed, and "
    "compares a file changed by hand whole",
    "[recover][pg][delta]") {
  Fixture& f = fixture();
  Restored r;
  auto plain = recover_into(r, f, {});
  INFO(plain.out << plain.err);
  REQUIRE(plain.exit_code == 0);
  std::string stamp = r.dest + "/cellar_restore.stamp";
  REQUIRE(path_exists(stamp));
  CHECK(read_text(stamp).find("\nbackup " + f.id + "\n") != std::string::npos);

  // A change the WAL does not know of: garbage over a block of a table the
  // workload leaves alone, its file's mtime moved by the write.
  std::string spc_file = r.dest + "/" + f.sql("SELECT pg_relation_filepath('spc_data')");
  overwrite(spc_file, 0, std::string(8192, 'x'));
  std::string spc_sum = f.sql("SELECT sum(hashtext(h)) FROM spc_data");
  f.pgbench({"-t", "200", "-c", "2", "-n"});
  std::string want = f.sql(kPgbenchChecksums);
  auto next = f.run({"backup", "main", "--wait", "--wait-timeout", "60", "--no-progress", "--immediate-checkpoint"});
  INFO(next.out << next.err);
  REQUIRE(next.exit_code == 0);
  REQUIRE(next.out.find(" is DONE") != std::string::npos);
  std::string id = next.out.substr(next.out.find("Backup ") + 7, 15);
  REQUIRE(id != f.id);

  auto delta =
      r.recover(*f.env, "main", id,
                {"--tablespace", "tbs1:" + r.tbs, "--delta", "--target-immediate", "--target-action", "promote"});
  INFO(delta.out << delta.err);
  REQUIRE(delta.exit_code == 0);
  CHECK(delta.out.find("Comparing changed files whole") == std::string::npos);  // the map was built
  std::smatch m;
  REQUIRE(std::regex_search(
      delta.out, m, std::regex(R"(Restore stamp: (\d+) files trusted unread, (\d+) compared only in the blocks)")));
  DeltaLine counts = delta_line(delta.out);
  CHECK(std::stoul(m[1]) > 500);
  CHECK(std::stoul(m[1]) <= counts.unchanged);
  CHECK(std::stoul(m[2]) >= 1);  // pgbench's tables, at least
  CHECK(counts.rewritten >= std::stoul(m[2]));
  REQUIRE(path_exists(stamp));  // DEST's new stamp names the backup it now holds
  CHECK(read_text(stamp).find("\nbackup " + id + "\n") != std::string::npos);
  // Byte for byte what a restore of the backup into an empty directory holds
  // (the cluster has data checksums, so even hint bits are in the WAL): no
  // block the map left uncompared differs.
  Restored fresh;
  auto whole = fresh.recover(*f.env, "main", id,
                             {"--tablespace", "tbs1:" + fresh.tbs, "--target-immediate", "--target-action", "promote"});
  INFO(whole.out << whole.err);
  REQUIRE(whole.exit_code == 0);
  size_t compared = 0;
  for (const auto& [from, to] : {std::pair{fresh.dest, r.dest}, std::pair{fresh.tbs, r.tbs}})
    for (const auto& e : std::filesystem::recursive_directory_iterator(from)) {
      std::string rel = e.path().string().substr(from.size());
      if (!e.is_regular_file() || e.is_symlink() || rel == "/postgresql.auto.conf" || rel == "/cellar_restore.stamp")
        continue;
      INFO(rel);
      REQUIRE(path_exists(to + rel));
      CHECK(read_text(to + rel) == read_text(from + rel));
      ++compared;
    }
  CHECK(compared > 900);

  r.start();
  CHECK(r.promoted_sums() == want);
  CHECK(r.query("SELECT sum(hashtext(h)) FROM spc_data") == spc_sum);
  auto stop = run_as_postgres({pg_bindir() + "/pg_ctl", "stop", "-D", r.dest, "-m", "fast", "-w"});
  REQUIRE(stop.exit_code == 0);
  r.started = false;
  auto sums = run_as_postgres({pg_bindir() + "/pg_checksums", "--check", "-D", r.dest});
  INFO(sums.out << sums.err);
  CHECK(sums.exit_code == 0);
}
