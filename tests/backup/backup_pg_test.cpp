// backup, list-backups, show-backup, verify-backup, delete and keep against a
// real PostgreSQL 15 with a user tablespace, driving the real binary. WAL
// reaches wals/ through a real `cellar receive-wal` child; the backup runs
// archive-wal itself while it waits.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

#include "catalog/backup_info.h"
#include "common/fs.h"
#include "common/json.h"
#include "locks/lock_file.h"
#include "locks/lock_names.h"
#include "support/cellar_env.h"
#include "support/pause_listener.h"
#include "support/pg_server.h"

using namespace cellar;
using namespace cellar::test;

namespace {

// One server for this file: pgbench scale 1 plus a table in a tablespace.
PgServer& backup_pg() {
  static std::unique_ptr<PgServer> pg = [] {
    auto p = PgServer::start();
    auto r = run_program({pg_bindir() + "/pgbench", "-h", p->socket_dir(), "-p", std::to_string(p->port()), "-U",
                          "postgres", "-i", "-s", "1", "-q", "postgres"});
    if (r.exit_code != 0) throw std::runtime_error("pgbench -i failed: " + r.err);
    p->create_tablespace("tbs1");
    p->psql("CREATE TABLE spc_data TABLESPACE tbs1 AS SELECT g, md5(g::text) FROM generate_series(1, 20000) g");
    return p;
  }();
  return *pg;
}

// A cellar installation backing up backup_pg() with its own slot.
struct Site {
  std::unique_ptr<CellarEnv> env = std::make_unique<CellarEnv>();
  Child receiver;

  Site(const std::string& slot, const std::string& extra, bool with_receiver) {
    env->add_server("main", backup_pg().conninfo(), "slot_name = \"" + slot + "\"\n" + extra);
    if (!with_receiver) return;
    auto created = env->run({"receive-wal", "--create-slot", "--if-not-exists", "main"});
    INFO(created.err);
    REQUIRE(created.exit_code == 0);
    receiver = env->spawn_cellar({"receive-wal", "main"});
    std::string lock = env->home() + "/" + locks::make_lock_file_name({locks::LockKind::receive_wal, "main", ""});
    REQUIRE(wait_until([&] { return locks::LockFile(lock).owner_pid().has_value(); }, 10));
  }
  ~Site() {
    if (receiver.pid() > 0) env->run({"receive-wal", "--stop", "main"});
  }
  RunResult run(const std::vector<std::string>& args) const { return env->run(args); }
  std::string base() const { return env->server_dir("main") + "/base"; }

  // backup --wait; returns the new id.
  std::string backup_done(const std::vector<std::string>& extra = {}) const {
    // A spread checkpoint after pgbench -i takes most of a minute: tests go fast.
    std::vector<std::string> args{
        "backup", "main", "--wait", "--wait-timeout", "60", "--no-progress", "--immediate-checkpoint"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run(args);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    REQUIRE(r.out.find(" is DONE") != std::string::npos);
    size_t pos = r.out.find("Backup ");
    return r.out.substr(pos + 7, 15);
  }
  catalog::BackupInfo info(const std::string& id) const {
    auto i = catalog::load_backup_info(base() + "/" + id);
    REQUIRE(i);
    return *i;
  }
};

std::vector<std::string> files_under(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(e.path().string());
  return out;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    out.push_back(text.substr(start, nl - start));
  return out;
}

void flip_byte(const std::string& path, size_t offset) {
  std::string data = read_text(path);
  REQUIRE(data.size() > offset);
  data[offset] = static_cast<char>(data[offset] ^ 0x40);
  write_text(path, data);
}

}  // namespace

TEST_CASE("backup stores a compressed copy with its tablespace, DONE once its WAL is archived, and verifiable",
          "[backup][pg]") {
  Site site("cellar_b1", "compression = \"zstd\"\nparallel_jobs = 2", true);
  std::string id = site.backup_done({"--name", "first one"});
  std::string dir = site.base() + "/" + id;
  catalog::BackupInfo info = site.info(id);
  CHECK(info.status == catalog::BackupStatus::done);
  CHECK(info.backup_name == "first one");
  CHECK(info.compression == "zstd");
  CHECK(info.mode == "postgres");
  CHECK(info.begin_wal.size() == 24);
  CHECK(info.end_wal >= info.begin_wal);
  CHECK(info.size.value_or(0) > 0);
  CHECK(info.xlog_segment_size == 16 * 1024 * 1024);
  const auto& spcs = info.tablespaces;
  REQUIRE(spcs.size() == 1);
  CHECK(spcs[0].name == "tbs1");
  CHECK(path_exists(dir + "/backup_manifest"));
  CHECK(path_exists(dir + "/data/global/pg_control.zst"));
  CHECK(path_exists(dir + "/data/PG_VERSION.zst"));
  CHECK(path_exists(dir + "/data/pg_wal"));
  CHECK_FALSE(files_under(dir + "/" + std::to_string(spcs[0].oid)).empty());
  for (const auto& f : files_under(dir)) CHECK(f.find("cellar-tmp") == std::string::npos);

  auto list = site.run({"list-backups", "main"});
  INFO(list.err);
  CHECK(list.exit_code == 0);
  CHECK(list.out.find("main " + id + " 'first one' - ") != std::string::npos);
  CHECK(list.out.find("Size: ") != std::string::npos);

  auto show = site.run({"-f", "json", "show-backup", "main", "first one"});
  REQUIRE(show.exit_code == 0);
  auto j = Json::parse(show.out);
  REQUIRE(j);
  CHECK(j->find("backup_id")->as_string() == id);
  CHECK(j->find("status")->as_string() == "DONE");
  CHECK(j->find("retention_status") != nullptr);

  auto verify = site.run({"verify-backup", "main", "latest"});
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 0);

  SECTION("a second backup hard-links the unchanged files and a flipped byte fails verification") {
    std::string id2 = site.backup_done();
    catalog::BackupInfo info2 = site.info(id2);
    CHECK(info2.deduplicated_size.value_or(0) < info2.size.value_or(0));
    int linked = 0;
    for (const auto& f : files_under(site.base() + "/" + id2)) {
      struct stat sb {};
      if (::stat(f.c_str(), &sb) == 0 && sb.st_nlink > 1) ++linked;
    }
    CHECK(linked > 100);
    std::string label = site.base() + "/" + id2 + "/data/backup_label.zst";
    flip_byte(label, read_text(label).size() / 2);
    auto bad = site.run({"verify-backup", "main", id2});
    CHECK(bad.exit_code == 1);
    CHECK(bad.err.find("backup_label") != std::string::npos);
    CHECK(site.run({"verify-backup", "main", "oldest"}).exit_code == 0);
  }
}

TEST_CASE("three concurrent backups of a server: one runs, the others exit 3 naming its PID", "[backup][pg]") {
  Site site("cellar_b2", "", false);
  std::vector<RunResult> results(3);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i)
    threads.emplace_back([&, i] { results[static_cast<size_t>(i)] = site.run({"backup", "main", "--no-progress"}); });
  for (auto& t : threads) t.join();
  int ok = 0, busy = 0;
  for (const auto& r : results) {
    INFO(r.out << r.err);
    if (r.exit_code == 0) ++ok;
    if (r.exit_code == 3) {
      ++busy;
      CHECK(r.err.find("another backup is running for server 'main'") != std::string::npos);
      CHECK(r.err.find("held by PID") != std::string::npos);
    }
  }
  CHECK(ok == 1);
  CHECK(busy == 2);
}

TEST_CASE("a backup killed with kill -9 is never DONE: shown FAILED, then marked FAILED by the next backup",
          "[backup][pg]") {
  Site site("cellar_b3", "compression = \"gzip\"\ncompression_level = 9", false);
  // Held still right after it wrote STARTED, then killed there.
  PauseListener paused("backup-started");
  Child child = site.env->spawn_cellar({"backup", "main", "--no-progress"}, {paused.env()});
  auto pid = paused.wait_reached();
  REQUIRE(pid);
  REQUIRE(*pid == child.pid());
  auto names = list_dir(site.base());
  REQUIRE(names);
  REQUIRE(names->size() == 1);
  std::string id = names->front();
  child.kill(SIGKILL);
  CHECK(child.wait() == 128 + SIGKILL);
  CHECK(site.info(id).status == catalog::BackupStatus::started);
  auto list = site.run({"list-backups", "main"});
  CHECK(list.out.find(id + " - FAILED") != std::string::npos);
  auto next = site.run({"backup", "main", "--no-progress", "--immediate-checkpoint"});
  INFO(next.err);
  CHECK(next.exit_code == 0);
  catalog::BackupInfo after = site.info(id);
  CHECK(after.status == catalog::BackupStatus::failed);
  CHECK_FALSE(after.error.empty());
}

TEST_CASE("retention statuses, keep, and delete with minimum_redundancy and WAL cleanup", "[backup][pg]") {
  Site site("cellar_b4", "retention_policy = \"REDUNDANCY 1\"\nminimum_redundancy = 1", true);
  std::string a = site.backup_done({"--name", "old"});
  std::string b = site.backup_done();
  auto list = site.run({"list-backups", "main"});
  CHECK(list.out.find(b) < list.out.find(a));  // newest first
  CHECK(list.out.find(b + " - ") != std::string::npos);
  CHECK(list.out.find("OBSOLETE") != std::string::npos);
  auto json = site.run({"-f", "json", "list-backups", "main"});
  auto arr = Json::parse(json.out);
  REQUIRE(arr);
  REQUIRE(arr->as_array().size() == 2);
  CHECK(arr->as_array()[0].find("retention_status")->as_string() == "VALID");
  CHECK(arr->as_array()[1].find("retention_status")->as_string() == "OBSOLETE");

  REQUIRE(site.run({"keep", "main", "old", "--target", "standalone"}).exit_code == 0);
  CHECK(site.run({"keep", "main", "old", "--status"}).out == "Keep: standalone\n");
  CHECK(site.run({"list-backups", "main"}).out.find("KEEP:STANDALONE") != std::string::npos);
  auto refused = site.run({"delete", "main", "first"});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("keep") != std::string::npos);
  REQUIRE(site.run({"keep", "main", "old", "--release"}).exit_code == 0);

  std::string begin_b = site.info(b).begin_wal;
  auto del = site.run({"delete", "main", "oldest"});
  INFO(del.out << del.err);
  REQUIRE(del.exit_code == 0);
  CHECK_FALSE(path_exists(site.base() + "/" + a));
  CHECK(del.out.find("\t0000") != std::string::npos);  // WAL files before b were removed
  for (const auto& line : split_lines(read_text(site.env->server_dir("main") + "/wals/xlog.db")))
    if (line.find(".history") == std::string::npos) CHECK(line.substr(0, 24) >= begin_b);
  for (const auto& f : files_under(site.env->server_dir("main") + "/wals")) {
    std::string name = std::filesystem::path(f).filename().string().substr(0, 24);
    if (name.find(".history") != std::string::npos || name == "xlog.db") continue;
    CHECK(name >= begin_b);
  }
  auto last = site.run({"delete", "main", "latest"});
  CHECK(last.exit_code == 1);
  CHECK(last.err.find("minimum redundancy") != std::string::npos);
  CHECK(site.run({"show-backup", "main", "nosuch"}).exit_code == 2);
}

TEST_CASE("a full disk fails the backup with a clear error and leaves nothing half written", "[backup][pg]") {
  Site site("cellar_b5", "", false);
  std::string server_dir = site.env->server_dir("main");
  REQUIRE(make_dirs(server_dir));
  // The suite runs as root (scripts/test does): a failed mount fails the test.
  auto mounted = run_program({"mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", server_dir});
  INFO("mount: " << mounted.err);
  REQUIRE(mounted.exit_code == 0);
  struct Unmount {
    std::string dir;
    ~Unmount() { run_program({"umount", "-l", dir}); }
  } unmount{server_dir};
  auto r = site.run({"backup", "main", "--no-progress", "--immediate-checkpoint"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("No space left on device") != std::string::npos);
  auto names = list_dir(site.base());
  REQUIRE(names);
  REQUIRE(names->size() == 1);
  CHECK(site.info(names->front()).status == catalog::BackupStatus::failed);
  auto list = site.run({"list-backups", "main"});
  CHECK(list.out.find(names->front() + " - FAILED") != std::string::npos);
  for (const auto& f : files_under(site.base() + "/" + names->front()))
    CHECK(f.find("backup.info") != std::string::npos);
}
