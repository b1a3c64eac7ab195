#include "repo/repo_site.h"

#include <catch2/catch.hpp>

#include "locks/lock_file.h"
#include "locks/lock_names.h"
#include "support/pg_workload.h"
#include "support/restored.h"

namespace cellar::test {
namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

PgServer& repo_pg() {
  static std::unique_ptr<PgServer> pg = [] {
    auto p = PgServer::start();
    run_pgbench(*p, {"-i", "-s", "1", "-q"});
    return p;
  }();
  return *pg;
}

RepoSite::RepoSite(const std::string& slot, const std::string& repo_toml) {
  env->add_server("main", repo_pg().conninfo(),
                  "slot_name = \"" + slot + "\"\ncompression = \"zstd\"\nparallel_jobs = 2\n" + repo_toml);
  auto created = env->run({"receive-wal", "--create-slot", "--if-not-exists", "main"});
  INFO(created.out << created.err);
  REQUIRE(created.exit_code == 0);
  receiver = env->spawn_cellar({"receive-wal", "main"});
  std::string lock = env->home() + "/" + locks::make_lock_file_name({locks::LockKind::receive_wal, "main", ""});
  REQUIRE(wait_until([&] { return locks::LockFile(lock).owner_pid().has_value(); }, 10));
}

RepoSite::~RepoSite() {
  if (receiver.pid() > 0) env->run({"receive-wal", "--stop", "main"});
  repo_pg().psql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active");
}

std::string RepoSite::backup_done(const std::vector<std::string>& extra) const {
  std::vector<std::string> args{
      "backup", "main", "--wait", "--wait-timeout", "90", "--no-progress", "--immediate-checkpoint"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = run(args);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.out.find(" is DONE") != std::string::npos);
  return r.out.substr(r.out.find("Backup ") + 7, 15);
}

void RepoSite::archive_current() const {
  auto sw = run({"switch-wal", "main"});
  size_t pos = sw.out.find("The WAL file ");
  INFO(sw.out << sw.err);
  REQUIRE(sw.exit_code == 0);
  REQUIRE(pos != std::string::npos);
  std::string segment = sw.out.substr(pos + 13, 24);
  bool archived = wait_until(
      [&] {
        run({"archive-wal", "main"});
        auto db = run({"get-wal", "main", segment, "--output-directory", env->home() + "/probe"});
        return db.exit_code == 0;
      },
      60);
  REQUIRE(archived);
}

void RepoSite::recover_and_compare(const std::string& id, const std::string& sums) const {
  Restored r;
  auto out = r.recover(*env, "main", id, {});
  INFO(out.out << out.err);
  REQUIRE(out.exit_code == 0);
  r.start();
  CHECK(r.promoted_sums() == sums);
}

std::string RepoSite::load_and_sums() const {
  run_pgbench(repo_pg(), {"-t", "100", "-c", "2", "-n"});
  return trimmed(repo_pg().psql(kPgbenchChecksums));
}

}  // namespace cellar::test
