#include "check/check.h"

#include <unistd.h>

#include <cctype>
#include <regex>

#include "common/fs.h"
#include "common/log.h"
#include "common/redact.h"
#include "common/storage_mount.h"
#include "config/layout.h"
#include "repo/repository.h"

namespace cellar::check {
namespace {

CheckResult pass(std::string hint = {}) { return {"", true, std::move(hint)}; }
CheckResult fail(std::string hint) { return {"", false, std::move(hint)}; }

bool contains(const std::string& text, const char* needle) { return text.find(needle) != std::string::npos; }

// Hints are one line: libpq messages carry newlines and tabs.
std::string one_line(const std::string& text) {
  std::string out;
  for (char c : text) {
    bool space = std::isspace(static_cast<unsigned char>(c));
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return redact_secrets(out);
}

std::string status_text(const Status& st) { return st.hint().empty() ? st.message() : st.message() + "; " + st.hint(); }

// The role a key/value conninfo names, for hints; a placeholder otherwise.
std::string conninfo_user(const std::string& conninfo) {
  static const std::regex user(R"((?:^|\s)user\s*=\s*'?([^'\s]+))");
  std::smatch m;
  return std::regex_search(conninfo, m, user) ? m[1].str() : "<role>";
}

// --- the checks, in table order ---

std::optional<CheckResult> check_postgresql(CheckContext& ctx) {
  if (ctx.server.passive()) return std::nullopt;
  if (ctx.postgres()) return pass();
  return fail(status_text(ctx.postgres_error()));
}

const char* const kPrivilegeQuery =
    "SELECT r.rolsuper,"
    " pg_has_role(current_user, 'pg_monitor', 'MEMBER')"
    "  OR pg_has_role(current_user, 'pg_read_all_settings', 'MEMBER'),"
    " CASE WHEN current_setting('server_version_num')::int >= 150000"
    "  THEN pg_has_role(current_user, 'pg_checkpoint', 'MEMBER') ELSE true END,"
    " has_function_privilege(current_user, 'pg_switch_wal()', 'EXECUTE'),"
    " has_function_privilege(current_user, 'pg_create_restore_point(text)', 'EXECUTE'),"
    " current_user"
    " FROM pg_roles r WHERE r.rolname = current_user";

// Superuser, or a standard role that can read settings, checkpoint, switch WAL
// and create restore points (BASE_BACKUP itself needs REPLICATION, which the
// streaming check covers for the streaming_conninfo role).
std::optional<CheckResult> check_privileges(CheckContext& ctx) {
  pg::Connection* conn = ctx.postgres();
  if (!conn) return std::nullopt;
  auto r = conn->query(kPrivilegeQuery);
  if (!r || r->rows.size() != 1) return fail("could not read the role's privileges: " + r.status().message());
  const pg::Row& row = r->rows[0];
  auto yes = [&](size_t i) { return row.at(i).value_or("f") == "t"; };
  if (yes(0)) return pass();
  std::string role = "\"" + row.at(5).value_or("") + "\"";
  std::vector<std::string> grants;
  if (!yes(1)) grants.push_back("GRANT pg_read_all_settings TO " + role);
  if (!yes(2)) grants.push_back("GRANT pg_checkpoint TO " + role);
  if (!yes(3)) grants.push_back("GRANT EXECUTE ON FUNCTION pg_switch_wal() TO " + role);
  if (!yes(4)) grants.push_back("GRANT EXECUTE ON FUNCTION pg_create_restore_point(text) TO " + role);
  if (grants.empty()) return pass();
  std::string hint = "role " + role + " is not a superuser and lacks backup privileges; as a superuser run: ";
  for (size_t i = 0; i < grants.size(); ++i) hint += (i ? "; " : "") + grants[i];
  return fail(hint);
}

// What an incremental backup calls on the normal connection (docs/incremental.md):
// shown only when backup_type = "incremental".
const char* const kIncrementalFunctions[] = {
    "pg_read_binary_file(text, bigint, bigint, boolean)",
    "pg_ls_dir(text, boolean, boolean)",
    "pg_stat_file(text, boolean)",
    "pg_backup_start(text, boolean)",
    "pg_backup_stop(boolean)",
};

std::optional<CheckResult> check_incremental_privileges(CheckContext& ctx) {
  if (ctx.server.passive() || ctx.server.backup_type() != "incremental") return std::nullopt;
  pg::Connection* conn = ctx.postgres();
  if (!conn) return std::nullopt;
  std::string sql = "SELECT current_user";
  for (const char* f : kIncrementalFunctions)
    sql += ", has_function_privilege(current_user, " + pg::sql_literal(f) + ", 'EXECUTE')";
  auto r = conn->query(sql);
  if (!r || r->rows.size() != 1) return fail("could not read the role's privileges: " + r.status().message());
  const pg::Row& row = r->rows[0];
  std::string role = "\"" + row.at(0).value_or("") + "\"", grants;
  for (size_t i = 0; i < std::size(kIncrementalFunctions); ++i)
    if (row.at(i + 1).value_or("f") != "t")
      grants += std::string(grants.empty() ? "" : "; ") + "GRANT EXECUTE ON FUNCTION " + kIncrementalFunctions[i] +
                " TO " + role;
  if (grants.empty()) return pass();
  return fail("role " + role + " cannot read files for incremental backups; as a superuser run: " + grants);
}

std::string streaming_hint(const std::string& message, const std::string& conninfo) {
  if (contains(message, "must be superuser or replication role"))
    return "give the role the REPLICATION attribute: as a superuser run: ALTER ROLE \"" + conninfo_user(conninfo) +
           "\" REPLICATION";
  if (contains(message, "no pg_hba.conf entry for replication"))
    return "allow it in PostgreSQL's pg_hba.conf with a line for database 'replication', then reload PostgreSQL";
  if (contains(message, "exceeds max_wal_senders") || contains(message, "too many clients"))
    return "raise max_wal_senders in postgresql.conf and restart PostgreSQL";
  return "check streaming_conninfo and that PostgreSQL is running and accepts replication connections";
}

// A replication connection through streaming_conninfo that answers IDENTIFY_SYSTEM.
std::optional<CheckResult> check_streaming(CheckContext& ctx) {
  if (ctx.server.passive()) return std::nullopt;
  std::string conninfo = ctx.server.streaming_conninfo();
  auto repl = pg::Connection::open(conninfo, pg::ConnectionKind::replication);
  if (!repl) {
    std::string msg = repl.status().message();
    const std::string generic = "could not connect to PostgreSQL: ";
    if (msg.rfind(generic, 0) == 0) msg.erase(0, generic.size());
    return fail("replication connection failed: " + msg + "; " + streaming_hint(msg, conninfo));
  }
  auto r = repl->query("IDENTIFY_SYSTEM");
  if (!r || r->rows.size() != 1)
    return fail("IDENTIFY_SYSTEM failed: " + r.status().message() + "; " +
                streaming_hint(r.status().message(), conninfo));
  if (auto tli = r->rows[0].size() > 1 ? r->rows[0][1] : std::nullopt) ctx.server_timeline = std::stoul(*tli);
  return pass();
}

std::optional<std::string> setting(CheckContext& ctx, const std::string& name, std::string& error) {
  pg::Connection* conn = ctx.postgres();
  if (!conn) return std::nullopt;
  auto v = conn->query_value("SHOW " + name);
  if (!v) {
    error = "could not read " + name + ": " + v.status().message();
    return std::nullopt;
  }
  return *v;
}

std::optional<CheckResult> check_wal_level(CheckContext& ctx) {
  std::string error;
  auto level = setting(ctx, "wal_level", error);
  if (!level) return error.empty() ? std::nullopt : std::optional(fail(error));
  if (*level == "minimal") return fail("please set it to a higher level than 'minimal'");
  return pass();
}

// receive-wal and a backup each hold one WAL sender.
std::optional<CheckResult> check_max_wal_senders(CheckContext& ctx) {
  std::string error;
  auto senders = setting(ctx, "max_wal_senders", error);
  if (!senders) return error.empty() ? std::nullopt : std::optional(fail(error));
  if (std::atoi(senders->c_str()) >= 2) return pass();
  return fail("max_wal_senders is " + *senders +
              ", cellar needs at least 2 (receive-wal and a backup): set max_wal_senders = 10 in postgresql.conf "
              "and restart PostgreSQL");
}

// Creates `dir` (0700) if missing; "" when it is a writable directory, else the problem.
std::string usable_dir(const std::string& dir) {
  if (storage::mount_of(dir)) return "";  // in the repository: its own check
  if (Status st = make_dirs(dir, 0700); !st) return st.message();
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    return Status::from_errno("\"" + dir + "\" is not writable", errno).message();
  return "";
}

std::optional<CheckResult> check_directories(CheckContext& ctx) {
  std::string server_dir = ctx.config.server_dir(ctx.server.name);
  std::vector<std::string> dirs{server_dir};
  for (const std::string& dir : layout::server_subdirs(server_dir)) dirs.push_back(dir);
  for (const auto& dir : dirs)
    if (std::string problem = usable_dir(dir); !problem.empty())
      return fail(problem + "; make \"" + ctx.config.home() + "\" writable by the user running cellar");
  std::string lock_dir = ctx.config.lock_directory();
  if (std::string problem = usable_dir(lock_dir); !problem.empty())
    return fail(problem + "; make the lock_directory \"" + lock_dir + "\" writable by the user running cellar");
  return pass();
}

// A probe object written, read back and removed through the repository's own
// driver: an S3 repository answers with its HTTP status and error code.
std::optional<CheckResult> check_repository(CheckContext& ctx) {
  if (std::string problem = repo::probe_repository(ctx.config, ctx.server); !problem.empty()) return fail(problem);
  return pass();
}

// A passive node reading its primary's repository directly must reach it.
std::optional<CheckResult> check_primary_repository(CheckContext& ctx) {
  if (!ctx.server.has(Key::primary_repository)) return std::nullopt;
  if (std::string problem = repo::probe_primary_repository(ctx.server); !problem.empty()) return fail(problem);
  return pass();
}

}  // namespace

pg::Connection* CheckContext::postgres() {
  if (!tried_) {
    tried_ = true;
    auto c = pg::Connection::open(server.conninfo(), pg::ConnectionKind::normal);
    if (c)
      conn_.emplace(std::move(*c));
    else
      postgres_error_ = c.status();
  }
  return conn_ ? &*conn_ : nullptr;
}

const catalog::Catalogue* CheckContext::catalogue() {
  if (!catalogue_tried_) {
    catalogue_tried_ = true;
    auto c = catalog::load_catalogue(config, server.name);
    if (c)
      catalogue_.emplace(std::move(*c));
    else
      catalogue_error_ = c.status();
  }
  return catalogue_ ? &*catalogue_ : nullptr;
}

const wal::XlogDb* CheckContext::xlogdb() {
  if (!xlogdb_tried_) {
    xlogdb_tried_ = true;
    auto db = wal::load_xlogdb(wal::xlogdb_path(server_dir()));
    if (db)
      xlogdb_.emplace(std::move(*db));
    else
      xlogdb_error_ = db.status();
  }
  return xlogdb_ ? &*xlogdb_ : nullptr;
}

// Barman's order (barman-behaviour.md §8), with cellar's max_wal_senders and
// WAL archive continuity where they read best.
const std::vector<CheckSpec>& check_table() {
  static const std::vector<CheckSpec> table = {
      {"WAL archive", checks::wal_archive},  // printed only when it fails, as Barman
      {"PostgreSQL", check_postgresql},
      {"superuser or standard user with backup privileges", check_privileges},
      {"incremental backup privileges", check_incremental_privileges},
      {"PostgreSQL streaming", check_streaming},
      {"wal_level", check_wal_level},
      {"max_wal_senders", check_max_wal_senders},
      {"replication slot", checks::replication_slot},
      {"directories", check_directories},
      {"repository", check_repository},
      {"primary repository", check_primary_repository},
      {"retention policy settings", checks::retention_settings},
      {"backup maximum age", checks::backup_maximum_age},
      {"backup minimum size", checks::backup_minimum_size},
      {"wal size", checks::wal_size},
      {"failed backups", checks::failed_backups},
      {"minimum redundancy requirements", checks::minimum_redundancy},
      {"systemid coherence", checks::systemid_coherence},
      {"timeline", checks::timeline},
      {"receive-wal running", checks::receive_wal_running},
      {"WAL archive continuity", checks::wal_continuity},
      {"archiver errors", checks::archiver_errors},
  };
  return table;
}

bool ServerChecks::failed() const {
  for (const auto& r : results)
    if (!r.ok) return true;
  return false;
}

ServerChecks check_server(const Config& config, const ServerConfig& server) {
  ServerChecks out{server.name, server.active(), {}, {}};
  CheckContext ctx(config, server);
  for (const CheckSpec& spec : check_table()) {
    std::optional<CheckResult> r = spec.run(ctx);
    if (!r) continue;
    r->name = spec.name;
    r->hint = one_line(r->hint);
    log::info("check " + server.name + ": " + r->name + ": " + (r->ok ? "OK" : "FAILED") +
              (r->hint.empty() ? "" : " (" + r->hint + ")"));
    out.results.push_back(std::move(*r));
  }
  out.perfdata = std::move(ctx.perfdata);
  return out;
}

std::string check_key(const std::string& name) {
  std::string key;
  for (char c : name) {
    if (c == '.') continue;
    key += (c == ' ' || c == '-') ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return key;
}

std::string render_text(const std::vector<ServerChecks>& servers) {
  std::string out;
  for (const auto& s : servers) {
    out += "Server " + s.server + (s.active ? "" : " (inactive)") + ":\n";
    for (const auto& r : s.results)
      out += "\t" + r.name + ": " + (r.ok ? "OK" : "FAILED") + (r.hint.empty() ? "" : " (" + r.hint + ")") + "\n";
  }
  return out;
}

Json render_json(const std::vector<ServerChecks>& servers) {
  Json doc = Json::object();
  for (const auto& s : servers) {
    Json checks = Json::object();
    for (const auto& r : s.results) {
      Json o = Json::object();
      o.set("status", r.ok ? "OK" : "FAILED");
      o.set("hint", r.hint);
      checks.set(check_key(r.name), std::move(o));
    }
    doc.set(s.server, std::move(checks));
  }
  return doc;
}

namespace {

std::string joined(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

// "<server> FAILED: <check>, <check>" plus the detail lines "<server>.<check>: FAILED (hint)".
std::string failure_summary(const ServerChecks& s, std::vector<std::string>& details) {
  std::vector<std::string> names;
  for (const auto& r : s.results) {
    if (r.ok) continue;
    names.push_back(r.name);
    details.push_back(s.server + "." + r.name + ": FAILED" + (r.hint.empty() ? "" : " (" + r.hint + ")"));
  }
  return s.server + " FAILED: " + joined(names, ", ");
}

NagiosReport nagios_critical(const std::vector<ServerChecks>& servers, const std::string& perf) {
  std::vector<std::string> summaries, details;
  size_t with_issues = 0;
  for (const auto& s : servers)
    if (s.failed()) {
      ++with_issues;
      summaries.push_back(failure_summary(s, details));
    }
  std::string head = servers.size() == 1 ? "server " + servers[0].server + " has issues"
                                         : std::to_string(with_issues) + " server out of " +
                                               std::to_string(servers.size()) + " have issues";
  std::string text = "CELLAR CRITICAL - " + head + " * " + joined(summaries, " * ") + "|" + perf + "\n";
  for (const auto& d : details) text += d + "\n";
  return {text, 2};
}

// Everything that counts is fine; servers whose only issues are ignored
// (inactive) are listed as IGNORING.
NagiosReport nagios_ok(const std::vector<ServerChecks>& servers, const std::string& perf) {
  std::vector<std::string> good, ignored;
  for (const auto& s : servers) (s.failed() ? ignored : good).push_back(s.server);
  std::string ignoring = ignored.empty() ? "" : " * IGNORING: " + joined(ignored, " * IGNORING: ");
  if (good.empty()) return {"CELLAR OK - No server configured" + ignoring + "\n", 0};
  std::string what = good.size() == 1 ? good[0] : std::to_string(good.size()) + " servers * " + joined(good, " * ");
  return {"CELLAR OK - Ready to serve the backup for " + what + ignoring + "|" + perf + "\n", 0};
}

}  // namespace

NagiosReport render_nagios(const std::vector<ServerChecks>& servers) {
  std::vector<std::string> perf;
  bool critical = false;
  for (const auto& s : servers) {
    perf.insert(perf.end(), s.perfdata.begin(), s.perfdata.end());
    critical = critical || s.counts_as_failure();
  }
  return critical ? nagios_critical(servers, joined(perf, " ")) : nagios_ok(servers, joined(perf, " "));
}

NagiosReport nagios_unknown(const std::string& message) { return {"CELLAR UNKNOWN - " + one_line(message) + "\n", 3}; }

}  // namespace cellar::check
