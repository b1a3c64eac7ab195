// A cellar installation whose server "main" keeps its repository where the
// test says (a path, an S3 bucket, encrypted or not), backing up one shared
// PostgreSQL with pgbench data through a real receive-wal child: what the
// repository tests of every driver share.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "support/cellar_env.h"
#include "support/pg_server.h"
#include "support/run.h"

namespace cellar::test {

// The one PostgreSQL of the test binary's repository tests (pgbench scale 1).
PgServer& repo_pg();

struct RepoSite {
  std::unique_ptr<CellarEnv> env = std::make_unique<CellarEnv>();
  Child receiver;

  // `repo_toml`: the server's repository keys; `slot`: its own slot.
  RepoSite(const std::string& slot, const std::string& repo_toml);
  ~RepoSite();
  RunResult run(const std::vector<std::string>& args) const { return env->run(args); }
  // backup --wait (and `extra` options); REQUIREs DONE and returns the id.
  std::string backup_done(const std::vector<std::string>& extra = {}) const;
  // switch-wal, then archive-wal until the closed segment is catalogued.
  void archive_current() const;
  // The pgbench checksums now, after a little load.
  std::string load_and_sums() const;
  // Recovers `id` to the end of the archived WAL, starts it, compares with `sums`.
  void recover_and_compare(const std::string& id, const std::string& sums) const;
};

}  // namespace cellar::test
