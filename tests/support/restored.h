// A directory for one recovery (data/, tbs/, sock/) and the PostgreSQL server
// started on it as its OS account, stopped (immediate) on destruction: what
// every test that restores a backup and looks at the data needs.
#pragma once

#include <string>
#include <vector>

#include "support/cellar_env.h"
#include "support/run.h"

namespace cellar::test {

// One md5 per pgbench table, in one line: the data at an instant.
extern const char* const kPgbenchChecksums;

struct Restored {
  TempDir tmp;
  std::string dest = tmp / "data";
  std::string tbs = tmp / "tbs";
  std::string sock = tmp / "sock";
  bool started = false;

  Restored();
  ~Restored();
  Restored(const Restored&) = delete;
  Restored& operator=(const Restored&) = delete;

  std::string conninfo() const { return "host=" + sock + " port=5432 user=postgres dbname=postgres"; }
  std::string log() const;
  // `cellar recover SERVER BACKUP DEST --no-progress extra...`
  RunResult recover(const CellarEnv& env, const std::string& server, const std::string& backup,
                    const std::vector<std::string>& extra) const;
  // Starts PostgreSQL on DEST (socket only, in sock/); REQUIREs success.
  void start();
  // One value of `sql`, or "ERROR ...".
  std::string query(const std::string& sql) const;
  // Waits until recovery has ended (promoted) and returns kPgbenchChecksums.
  std::string promoted_sums() const;
};

}  // namespace cellar::test
