#include "catalog/listing.h"

#include "catalog/retention.h"
#include "common/progress.h"
#include "wal/xlogdb.h"

namespace cellar::catalog {
namespace {

std::map<std::string, std::string> retention_of(const Catalogue& cat, const ServerConfig& server) {
  std::vector<RetentionInput> in;
  for (const auto& b : cat.backups)
    in.push_back({b.info.backup_id, b.status, b.info.end_time ? b.info.end_time->epoch : 0, b.info.keep,
                  b.info.parent_backup_id});
  return retention_report(server.retention_policy(), static_cast<int>(server.minimum_redundancy()), std::time(nullptr),
                          in);
}

void add_wal_stats(const wal::XlogDb& db, std::vector<BackupView>& views) {
  // views are newest first: each backup's WAL runs to the next (newer) one's begin.
  std::string upper;
  for (auto& v : views) {
    const std::string& begin = v.entry->info.begin_wal;
    if (!begin.empty() && v.entry->copy_done()) {
      for (const auto& e : db.entries)
        if (e.name >= begin && (upper.empty() || e.name < upper)) {
          ++v.wal_count;
          v.wal_size += e.size;
        }
      upper = begin;
    }
  }
}

}  // namespace

Result<std::vector<BackupView>> describe_backups(const Catalogue& cat, const ServerConfig& server) {
  auto retention = retention_of(cat, server);
  std::vector<BackupView> views;
  for (auto it = cat.backups.rbegin(); it != cat.backups.rend(); ++it)
    views.push_back({&*it, retention[it->info.backup_id], 0, 0});
  auto db = wal::load_xlogdb(wal::xlogdb_path(cat.server_dir));
  if (!db) return db.status();
  add_wal_stats(*db, views);
  return views;
}

std::string list_line(const std::string& server, const BackupView& v) {
  const BackupInfo& i = v.entry->info;
  std::string line = server + " " + i.backup_id;
  if (!i.backup_name.empty()) line += " '" + i.backup_name + "'";
  if (!v.entry->copy_done()) return line + " - " + status_name(v.entry->status);
  line += " - " + (i.end_time ? format_ctime(i.end_time->epoch) : std::string());
  line += " - Size: " + human_bytes(i.size.value_or(0)) + " - WAL Size: " + human_bytes(v.wal_size);
  if (i.incremental()) line += " - Incremental on " + i.parent_backup_id;
  if (v.entry->status == BackupStatus::waiting_for_wals) line += " - WAITING_FOR_WALS";
  if (v.retention != "-") line += " - " + v.retention;
  return line;
}

Json backup_json(const BackupView& v) {
  Json o = Json::object();
  for (const auto& [k, val] : info_fields(v.entry->info)) o.set(k, val.empty() ? Json() : Json(val));
  o.set("status", status_name(v.entry->status));
  o.set("retention_status", v.retention);
  o.set("wal_count", v.wal_count);
  o.set("wal_size", v.wal_size);
  return o;
}

std::string show_text(const BackupView& v) {
  const BackupInfo& i = v.entry->info;
  std::string out = "Backup " + i.backup_id + ":\n";
  for (const auto& [k, val] : info_fields(i)) {
    std::string shown = k == "status" ? status_name(v.entry->status) : val.empty() ? "None" : val;
    out += "  " + k + ": " + shown + "\n";
  }
  out += "  retention_status: " + v.retention + "\n";
  out += "  wal_count: " + std::to_string(v.wal_count) + "\n";
  out += "  wal_size: " + human_bytes(v.wal_size) + "\n";
  return out;
}

}  // namespace cellar::catalog
