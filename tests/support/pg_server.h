// A real PostgreSQL 15 for tests (STYLE.md: anything PostgreSQL does is tested
// against a real server, never a mock).
//
// What it owns: starting and stopping throwaway clusters, their directories and
// their OS account. What it does not: anything cellar-specific (configs, homes).
//
// How a server is made:
// - initdb runs ONCE per machine into a cached template
//   (/tmp/cellar-pg-template-v1[-<uid>]/data), guarded by an flock so parallel
//   ctest processes do not race, and validated by a READY marker holding the
//   `postgres --version` and harness settings it was made with (either
//   changing rebuilds it). Each server is a `cp -a` of it.
// - As root, initdb/postgres run as the `postgres` account (setpriv); as any
//   other user they run as that user. Either way "the server's OS account".
// - Each server lives in /tmp/cellar-pg-run-XXXXXX/ (0755, ours):
//     owner         "<pid> <starttime>" of the test process that owns it
//     pg/           owned by the server account
//       data/       PGDATA (data checksums on)
//       sock/       unix_socket_directories; the only way in (listen_addresses='')
//       postgres.log
//       tblspc/     create_tablespace() locations
// - Settings: a private port (a free TCP port, so a later switch to TCP is safe),
//   wal_level=replica, max_wal_senders=10, max_replication_slots=10,
//   shared_buffers=16MB, max_connections=40, fsync on,
//   recovery_init_sync_method=syncfs (crash recovery after stop_immediate()
//   takes 0.3 s instead of seconds); everything else PostgreSQL's default.
//   Extra settings (e.g. wal_level=minimal) are appended to postgresql.conf.
// - pg_hba.conf: local `trust` for every role, except members of the group
//   role `cellar_pw`, who must give a scram-sha-256 password (create_role with
//   a password adds the role to that group). Both for normal and replication.
//
// Lifetime: a PgServer stops its cluster (immediate) and removes its directory
// when destroyed. shared_pg() is one lazily started server per test process,
// stopped at exit (atexit and a Catch2 listener), so also when a test fails.
// Servers left over by a previous test run that was killed are stopped and
// removed by the next start() (their owner process is gone).
//
// Failures throw std::runtime_error carrying the server log's tail, so the
// Catch2 test that asked for the server fails with the reason.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "support/run.h"

namespace cellar::test {

struct PgOptions {
  // "name = value" lines added to postgresql.conf, e.g. {"wal_level", "minimal"}.
  std::vector<std::pair<std::string, std::string>> settings;
  // Run initdb for this server instead of copying the template (a few seconds
  // more): template copies all share one system identifier.
  bool fresh_initdb = false;
};

class PgServer {
 public:
  // Copies the template, starts the server and waits until it accepts
  // connections. Throws with the server log on failure.
  static std::unique_ptr<PgServer> start(const PgOptions& options = {});

  // A hot standby of `primary` (streaming from it, no slot): a cold copy of
  // its data directory, taken while the primary is stopped for a moment
  // (fast shutdown, then started again), with standby.signal and
  // primary_conninfo. Same system identifier; waits until it accepts
  // connections.
  static std::unique_ptr<PgServer> start_standby(PgServer& primary);

  ~PgServer();  // stop_immediate() if running, then removes the directory
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  // "host=<sockdir> port=<port> user=postgres dbname=postgres"
  std::string conninfo(const std::string& user = "postgres") const;
  int port() const { return port_; }
  const std::string& socket_dir() const { return sock_dir_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& log_file() const { return log_file_; }
  const std::string& base_dir() const { return base_; }
  bool running() const { return running_; }

  void stop();            // fast shutdown (checkpoint), waits
  void stop_immediate();  // immediate shutdown: no checkpoint, crash recovery on next start
  void crash() { stop_immediate(); }
  void start_again();  // starts a stopped server (same data, same port)
  void restart();      // stop() then start_again()
  void promote();      // pg_ctl promote -w: a standby becomes a primary on a new timeline

  // Runs SQL as the superuser `postgres` (each call a new connection) and
  // returns the rows as psql -tA would: columns joined by '|', rows by '\n'.
  // Throws on error.
  std::string psql(const std::string& sql, const std::string& dbname = "postgres") const;

  // CREATE ROLE name LOGIN <attributes> [PASSWORD password]; a role with a
  // password must authenticate with it (scram-sha-256), see pg_hba above.
  void create_role(const std::string& name, const std::string& attributes = "", const std::string& password = "") const;

  // Creates a directory owned by the server account and a tablespace in it;
  // returns the directory.
  std::string create_tablespace(const std::string& name) const;

  // The last `max_bytes` of the server log.
  std::string log_tail(size_t max_bytes = 4000) const;

 private:
  PgServer() = default;
  static std::unique_ptr<PgServer> make_run_dir();
  void launch();
  void pg_ctl_stop(const char* mode);

  std::string base_;
  std::string pg_dir_;
  std::string data_dir_;
  std::string sock_dir_;
  std::string log_file_;
  int port_ = 0;
  bool running_ = false;
};

// Runs argv as the server's OS account (postgres when we are root), cwd "/".
RunResult run_as_postgres(const std::vector<std::string>& argv);

// chown -R to the server's OS account (no-op unless root). Throws on failure.
void chown_to_postgres(const std::string& path);

// The directory holding initdb, postgres, pg_ctl. Throws if missing.
std::string pg_bindir();

// One server per test process, started on first use and stopped at exit.
// Tests must leave it as they found it (running, default settings).
PgServer& shared_pg();

}  // namespace cellar::test
