// `cellar check` (SPEC §1, Barman's `barman check`): a table of named checks,
// each answering OK or FAILED with a hint that says what to do, run for one
// server at a time; plus the three renderings of the results (console lines,
// one Nagios line, JSON).
//
// What it owns: the check names (they are an API: monitoring greps them and
// JSON keys derive from them), their order, their hints, and the rule that
// only active servers' failures count. What it does not own: server
// selection and exit-code plumbing (cli/cmd_check.cpp).
//
// To add a check: write `std::optional<CheckResult> fn(CheckContext&)` in
// check.cpp (PostgreSQL-side checks) or check_archive.cpp (checks of
// cellar's own files: catalogue, WAL archive, receive-wal) and put it in
// check_table() where Barman prints it. Return std::nullopt when the check
// does not apply (e.g. PostgreSQL unreachable, passive node). Checks never
// fail as a whole: problems become FAILED results.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "catalog/catalogue.h"
#include "common/json.h"
#include "config/config.h"
#include "pg/connection.h"
#include "pg/wal_names.h"
#include "wal/xlogdb.h"

namespace cellar::check {

struct CheckResult {
  std::string name;  // e.g. "PostgreSQL", "wal_level"
  bool ok = false;
  std::string hint;  // what to do (failures); may also annotate an OK
};

// All the results of one server.
struct ServerChecks {
  std::string server;
  bool active = true;
  std::vector<CheckResult> results;
  std::vector<std::string> perfdata;  // Nagios perfdata items, e.g. "main=0B"

  bool failed() const;  // some result FAILED
  bool counts_as_failure() const { return active && failed(); }
};

// State shared by the checks of one server: connections are opened once, on
// first use, and their failure is remembered so each is reported once.
class CheckContext {
 public:
  CheckContext(const Config& cfg, const ServerConfig& srv) : config(cfg), server(srv) {}
  const Config& config;
  const ServerConfig& server;

  // The normal connection (conninfo), or null; postgres_error() says why.
  pg::Connection* postgres();
  const Status& postgres_error() const { return postgres_error_; }
  // The server's backups and xlog.db, loaded once; null when unreadable
  // (catalogue_error() / xlogdb_error() say why).
  const catalog::Catalogue* catalogue();
  const Status& catalogue_error() const { return catalogue_error_; }
  const wal::XlogDb* xlogdb();
  const Status& xlogdb_error() const { return xlogdb_error_; }
  std::string server_dir() const { return config.server_dir(server.name); }

  // The timeline IDENTIFY_SYSTEM reported (set by the streaming check).
  std::optional<pg::TimeLineId> server_timeline;

  // Nagios perfdata items the checks add ("main=123B").
  std::vector<std::string> perfdata;

 private:
  bool tried_ = false;
  std::optional<pg::Connection> conn_;
  Status postgres_error_;
  bool catalogue_tried_ = false;
  std::optional<catalog::Catalogue> catalogue_;
  Status catalogue_error_;
  bool xlogdb_tried_ = false;
  std::optional<wal::XlogDb> xlogdb_;
  Status xlogdb_error_;
};

using CheckFn = std::optional<CheckResult> (*)(CheckContext&);
struct CheckSpec {
  const char* name;
  CheckFn run;
};

// Every check, in output order.
const std::vector<CheckSpec>& check_table();

// The checks of check_archive.cpp, for the table (names and hints there).
namespace checks {
std::optional<CheckResult> wal_archive(CheckContext& ctx);
std::optional<CheckResult> replication_slot(CheckContext& ctx);
std::optional<CheckResult> timeline(CheckContext& ctx);
std::optional<CheckResult> retention_settings(CheckContext& ctx);
std::optional<CheckResult> backup_maximum_age(CheckContext& ctx);
std::optional<CheckResult> backup_minimum_size(CheckContext& ctx);
std::optional<CheckResult> wal_size(CheckContext& ctx);
std::optional<CheckResult> failed_backups(CheckContext& ctx);
std::optional<CheckResult> minimum_redundancy(CheckContext& ctx);
std::optional<CheckResult> systemid_coherence(CheckContext& ctx);
std::optional<CheckResult> receive_wal_running(CheckContext& ctx);
std::optional<CheckResult> wal_continuity(CheckContext& ctx);
std::optional<CheckResult> archiver_errors(CheckContext& ctx);
}  // namespace checks

// Runs every check of the table for `server`. Never fails: problems are results.
ServerChecks check_server(const Config& config, const ServerConfig& server);

// JSON key of a check name: lowercase, spaces and '-' to '_', '.' removed.
std::string check_key(const std::string& name);

// Console output: "Server NAME:" ("(inactive)" appended), then "\tNAME: OK" or
// "\tNAME: FAILED (hint)" lines.
std::string render_text(const std::vector<ServerChecks>& servers);

// {"server": {"check_key": {"status": "OK"|"FAILED", "hint": "..."}}}
Json render_json(const std::vector<ServerChecks>& servers);

// Nagios plugin output (one summary line "CELLAR OK|CRITICAL - ...|perfdata",
// then one line per failed check) and its exit code: 0 OK, 2 CRITICAL.
struct NagiosReport {
  std::string text;
  int exit_code = 0;
};
NagiosReport render_nagios(const std::vector<ServerChecks>& servers);

// For errors that prevent checking at all (unknown server): exit 3 UNKNOWN.
NagiosReport nagios_unknown(const std::string& message);

}  // namespace cellar::check
