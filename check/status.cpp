#include "check/status.h"

#include <ctime>

#include "catalog/catalogue.h"
#include "common/fs.h"
#include "common/progress.h"
#include "locks/lock_backend.h"
#include "locks/typed_lock.h"
#include "pg/connection.h"
#include "pg/wal_names.h"
#include "wal/identity.h"
#include "wal/receiver.h"
#include "wal/xlogdb.h"

namespace cellar::check {
namespace {

const char* const kPostgresQuery =
    "SELECT current_setting('server_version'), pg_is_in_recovery(),"
    " CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END,"
    " CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_walfile_name(pg_current_wal_lsn()) END";

void collect_postgres(const ServerConfig& server, ServerStatus& st) {
  auto conn = pg::Connection::open(server.conninfo(), pg::ConnectionKind::normal, "cellar_status");
  if (!conn) {
    st.postgres_error = conn.status().message();
    return;
  }
  auto r = conn->query(kPostgresQuery);
  if (!r || r->rows.empty()) {
    st.postgres_error = r.status().message();
    return;
  }
  const pg::Row& row = r->rows[0];
  st.pg_version = row.at(0).value_or("");
  st.pg_version = st.pg_version.substr(0, st.pg_version.find(' '));  // "15.4 (Debian 15.4-1)" → "15.4"
  st.in_recovery = row.at(1).value_or("f") == "t";
  st.current_lsn = row.at(2).value_or("");
  st.current_wal = row.at(3).value_or("");
  // pg_control_system() may be denied to a non-superuser: identity.json then.
  if (auto id = conn->query_value("SELECT system_identifier FROM pg_control_system()")) st.systemid = *id;
  auto slot = conn->query("SELECT active, restart_lsn FROM pg_replication_slots WHERE slot_name = " +
                          pg::sql_literal(st.slot_name));
  if (slot && !slot->rows.empty()) {
    st.slot_active = slot->rows[0].at(0).value_or("f") == "t";
    st.slot_restart_lsn = slot->rows[0].at(1).value_or("");
  }
}

void collect_receiver(const Config& config, const ServerConfig& server, ServerStatus& st) {
  auto owner = locks::lock_manager(config).owner({locks::LockKind::receive_wal, server.name, ""});
  std::optional<pid_t> pid;
  if (owner && *owner && !(*owner)->is_hold() && ((*owner)->host.empty() || (*owner)->host == locks::this_host()))
    pid = (*owner)->pid;
  auto state = wal::load_receiver_state(config.server_dir(server.name));
  std::optional<wal::ReceiverState> rs = state ? *state : std::nullopt;
  if (rs && !rs->last_error.empty()) st.receiver_error = rs->last_error;
  if (!pid) return;
  st.receiver_pid = *pid;
  if (!rs || rs->pid != *pid) return;  // the state file is another (older) receiver's
  st.receiver_uptime = std::time(nullptr) - rs->started_at;
  st.flushed_lsn = rs->flushed_lsn;
  std::string server_lsn = st.current_lsn.empty() ? rs->server_lsn : st.current_lsn;
  auto flushed = pg::parse_lsn(st.flushed_lsn), current = pg::parse_lsn(server_lsn);
  if (flushed && current) st.lag_bytes = *current >= *flushed ? static_cast<int64_t>(*current - *flushed) : 0;
}

void collect_backups(const Config& config, const ServerConfig& server, ServerStatus& st) {
  auto cat = catalog::load_catalogue(config, server.name);
  if (!cat) {
    st.archive_error = cat.status().message();
    return;
  }
  st.catalogue_read = true;
  for (const auto& b : cat->backups) {
    ++st.backups_by_status[catalog::status_name(b.status)];
    if (b.status == catalog::BackupStatus::failed) ++st.failed_backups;
    if (b.status != catalog::BackupStatus::done) continue;
    ++st.backups;
    if (st.first_backup.empty()) st.first_backup = b.info.backup_id;
    st.last_backup = b.info.backup_id;
    st.last_backup_end = b.info.end_time ? std::optional<int64_t>(b.info.end_time->epoch) : std::nullopt;
    st.last_backup_size = b.info.size;
  }
  if (auto policy = server.retention_policy()) st.retention_policy = policy->text;
  st.minimum_redundancy = server.minimum_redundancy();
}

void collect_archive(const Config& config, const ServerConfig& server, ServerStatus& st) {
  std::string dir = config.server_dir(server.name);
  auto db = wal::load_xlogdb(wal::xlogdb_path(dir));
  if (!db) {
    st.archive_error = db.status().message();
    return;
  }
  st.xlogdb_read = true;
  for (const auto& e : db->entries) {
    ++st.wal_files;
    st.wal_bytes += e.size;
    if (pg::is_segment_name(e.name)) st.last_segment_time = e.time;  // archive order: the last one wins
  }
  if (const wal::XlogEntry* last = db->last()) st.last_wal = last->name;
  if (st.systemid.empty())
    if (auto id = wal::load_identity(dir); id && *id) st.systemid = (*id)->systemid;
}

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

std::string receiver_line(const ServerStatus& s) {
  if (!s.streaming_archiver) return "not used (streaming_archiver = false)";
  if (!s.receiver_pid)
    return "not running" + (s.receiver_error.empty() ? "" : " (last error: " + s.receiver_error + ")");
  std::string line = "running (PID " + std::to_string(*s.receiver_pid);
  if (s.receiver_uptime) line += ", uptime " + std::to_string(*s.receiver_uptime) + " s";
  return line + ")";
}

std::string slot_line(const ServerStatus& s) {
  if (!s.postgres_error.empty() || s.passive) return s.slot_name + " (unknown)";
  if (!s.slot_active) return s.slot_name + " (missing)";
  return s.slot_name + (*s.slot_active ? " (active" : " (inactive") +
         (s.slot_restart_lsn.empty() ? "" : ", restart_lsn " + s.slot_restart_lsn) + ")";
}

std::string server_text(const ServerStatus& s) {
  std::string out = "Server " + s.server + ":\n";
  auto field = [&](const std::string& name, const std::string& value) { out += "\t" + name + ": " + value + "\n"; };
  field("Description", or_dash(s.description));
  field("Active", s.active ? "True" : "False");
  field("Passive node", s.passive ? "True" : "False");
  if (!s.postgres_error.empty()) field("PostgreSQL", "unreachable (" + s.postgres_error + ")");
  field("PostgreSQL version", or_dash(s.pg_version));
  field("System id", or_dash(s.systemid));
  field("Current LSN", or_dash(s.current_lsn));
  field("Current WAL segment", or_dash(s.current_wal));
  field("Replication slot", slot_line(s));
  field("receive-wal", receiver_line(s));
  field("Last flushed LSN", or_dash(s.flushed_lsn));
  field("Lag", s.lag_bytes ? std::to_string(*s.lag_bytes) + " bytes" : "-");
  field("Retention policies", s.retention_policy.empty() ? "not enforced" : "enforced (" + s.retention_policy + ")");
  field("No. of available backups", std::to_string(s.backups));
  field("First available backup", or_dash(s.first_backup));
  field("Last available backup", or_dash(s.last_backup));
  field("Failed backups", std::to_string(s.failed_backups));
  field("Minimum redundancy requirements", std::string(s.backups >= s.minimum_redundancy ? "satisfied" : "FAILED") +
                                               " (" + std::to_string(s.backups) + "/" +
                                               std::to_string(s.minimum_redundancy) + ")");
  field("WAL archive", std::to_string(s.wal_files) + " files, " + human_bytes(s.wal_bytes) +
                           (s.last_wal.empty() ? "" : ", last " + s.last_wal));
  if (!s.archive_error.empty()) field("catalog::Catalogue error", s.archive_error);
  return out;
}

Json opt_int(const std::optional<int64_t>& v) { return v ? Json(*v) : Json(); }
Json opt_str(const std::string& s) { return s.empty() ? Json() : Json(s); }

Json server_json(const ServerStatus& s) {
  Json o = Json::object();
  o.set("description", s.description);
  o.set("active", s.active);
  o.set("passive", s.passive);
  o.set("postgres_error", opt_str(s.postgres_error));
  o.set("pg_version", opt_str(s.pg_version));
  o.set("systemid", opt_str(s.systemid));
  o.set("current_lsn", opt_str(s.current_lsn));
  o.set("current_wal", opt_str(s.current_wal));
  o.set("in_recovery", s.in_recovery);
  o.set("slot_name", s.slot_name);
  o.set("slot_exists", s.slot_active.has_value());
  o.set("slot_active", s.slot_active ? Json(*s.slot_active) : Json());
  o.set("slot_restart_lsn", opt_str(s.slot_restart_lsn));
  o.set("streaming_archiver", s.streaming_archiver);
  o.set("receive_wal_pid", opt_int(s.receiver_pid));
  o.set("receive_wal_uptime_seconds", opt_int(s.receiver_uptime));
  o.set("flushed_lsn", opt_str(s.flushed_lsn));
  o.set("lag_bytes", opt_int(s.lag_bytes));
  o.set("receive_wal_last_error", opt_str(s.receiver_error));
  o.set("retention_policy", opt_str(s.retention_policy));
  o.set("minimum_redundancy", s.minimum_redundancy);
  o.set("backups", s.backups);
  o.set("failed_backups", s.failed_backups);
  o.set("first_backup", opt_str(s.first_backup));
  o.set("last_backup", opt_str(s.last_backup));
  o.set("wal_files", s.wal_files);
  o.set("wal_bytes", s.wal_bytes);
  o.set("last_wal", opt_str(s.last_wal));
  o.set("catalogue_error", opt_str(s.archive_error));
  return o;
}

}  // namespace

ServerStatus collect_status(const Config& config, const ServerConfig& server) {
  ServerStatus st;
  st.server = server.name;
  st.description = server.description();
  st.active = server.active();
  st.passive = server.passive();
  st.slot_name = server.slot_name();
  st.streaming_archiver = server.streaming_archiver() && !st.passive;
  if (!st.passive) collect_postgres(server, st);  // 1. what PostgreSQL says
  collect_receiver(config, server, st);           // 2. the receive-wal process
  collect_backups(config, server, st);            // 3. the catalogue
  collect_archive(config, server, st);            // 4. the WAL archive
  return st;
}

std::string render_status_text(const std::vector<ServerStatus>& servers) {
  std::string out;
  for (const auto& s : servers) out += server_text(s);
  return out;
}

Json render_status_json(const std::vector<ServerStatus>& servers) {
  Json doc = Json::object();
  for (const auto& s : servers) doc.set(s.server, server_json(s));
  return doc;
}

}  // namespace cellar::check
