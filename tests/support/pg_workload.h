// What tests that back up a real PostgreSQL do between backups: run pgbench
// against it, and close the current WAL segment and wait until cellar has
// archived it.
#pragma once

#include <string>
#include <vector>

#include "support/cellar_env.h"
#include "support/pg_server.h"

namespace cellar::test {

// pgbench `args` against `pg` (its socket, user and database postgres);
// throws with pgbench's stderr when it fails.
void run_pgbench(const PgServer& pg, const std::vector<std::string>& args);

// `switch-wal SERVER`, then `archive-wal SERVER` until the closed segment is
// in wals/ (plain or .lz4); its path. Throws when that takes over 30 s.
std::string archive_current_wal(const CellarEnv& env, const std::string& server = "main");

}  // namespace cellar::test
