#include "cron/maintenance.h"

#include <algorithm>
#include <ctime>

#include "catalog/delete_backup.h"
#include "catalog/retention.h"
#include "common/log.h"
#include "locks/lock_backend.h"
#include "locks/typed_lock.h"

namespace cellar::cron {
namespace {

std::string of_server(const std::string& id, const std::string& server) {
  return "backup " + id + " of server '" + server + "'";
}

// The retention status of every backup, by id (as list-backups shows it).
std::map<std::string, std::string> retention_statuses(const catalog::Catalogue& cat, const ServerConfig& server) {
  std::vector<catalog::RetentionInput> in;
  for (const auto& b : cat.backups)
    in.push_back({b.info.backup_id, b.status, b.info.end_time ? b.info.end_time->epoch : 0, b.info.keep,
                  b.info.parent_backup_id});
  return catalog::retention_report(server.retention_policy(), static_cast<int>(server.minimum_redundancy()),
                                   std::time(nullptr), in);
}

// Deletes one OBSOLETE backup; a busy id lock is a warning, not an error.
Status remove_obsolete(const Config& config, const ServerConfig& server, const std::string& id, const SayFn& say) {
  auto skip = [&] {
    std::string line = "WARNING: another action is in progress for the " + of_server(id, server.name) +
                       ", skipping retention policy application";
    log::warning(line);
    say(line);
  };
  if (catalog::backup_in_use(locks::lock_manager(config), server.name, id)) {
    skip();
    return Status::ok();
  }
  say("Enforcing retention policy: removing " + of_server(id, server.name));
  auto deleted = catalog::delete_backup(config, server, id);
  if (!deleted && deleted.status().code() == ErrorCode::busy) {
    skip();
    return Status::ok();
  }
  if (!deleted) return deleted.status();
  std::string line = "Deleted " + of_server(id, server.name) + " and " + std::to_string(deleted->removed_wals.size()) +
                     " WAL files no backup needs";
  log::info(line);
  say(line);
  return Status::ok();
}

std::optional<std::time_t> time_of_id(const std::string& id) {
  std::tm tm{};
  if (!::strptime(id.c_str(), "%Y%m%dT%H%M%S", &tm)) return std::nullopt;
  tm.tm_isdst = -1;
  return std::mktime(&tm);
}

}  // namespace

Status settle_waiting_backups(const Config& config, const ServerConfig& server, const SayFn& say) {
  auto cat = catalog::load_catalogue(config, server.name);
  if (!cat) return cat.status();
  for (const auto& b : cat->backups) {
    if (b.status != catalog::BackupStatus::waiting_for_wals) continue;
    auto lock = locks::BackupIdLock::acquire(locks::lock_manager(config), server.name, b.info.backup_id);
    if (!lock) {
      if (lock.status().code() == ErrorCode::busy) continue;  // its owner (backup --wait, delete) decides
      return lock.status();
    }
    auto now = catalog::check_backup_wals(*lock, cat->server_dir, b.dir);
    if (!now) return now.status();
    if (*now == catalog::BackupStatus::waiting_for_wals) continue;
    std::string line = "WAL check of " + of_server(b.info.backup_id, server.name) + ": " + catalog::status_name(*now);
    if (*now == catalog::BackupStatus::failed) {
      auto info = catalog::load_backup_info(b.dir);
      if (info) line += " (" + info->error + ")";
      log::warning(line);
    } else {
      log::info(line);
    }
    say(line);
  }
  return Status::ok();
}

Status fail_dead_backups(const Config& config, const ServerConfig& server, const SayFn& say) {
  auto cat = catalog::load_catalogue(config, server.name);
  if (!cat) return cat.status();
  std::vector<std::string> dead;
  for (const auto& b : cat->backups)
    if (b.info.status == catalog::BackupStatus::started && b.status == catalog::BackupStatus::failed)
      dead.push_back(b.info.backup_id);
  if (dead.empty()) return Status::ok();
  // The server's backup lock: no new backup can write STARTED meanwhile.
  auto lock = locks::ServerBackupLock::acquire(locks::lock_manager(config), server.name);
  if (!lock) return lock.status().code() == ErrorCode::busy ? Status::ok() : lock.status();
  auto fresh = catalog::load_catalogue(config, server.name);  // under the lock
  if (!fresh) return fresh.status();
  if (Status st = catalog::fail_stale_backups(*lock, *fresh); !st) return st;
  for (const auto& id : dead)
    say("Marked " + of_server(id, server.name) + " FAILED: its process died while it was STARTED");
  return Status::ok();
}

Status enforce_retention(const Config& config, const ServerConfig& server, const SayFn& say) {
  if (!server.retention_policy()) return Status::ok();
  auto cat = catalog::load_catalogue(config, server.name);
  if (!cat) return cat.status();
  Status first_error;
  // Newest first: an obsolete incremental goes before the parent it needs
  // (delete refuses a backup others depend on).
  auto statuses = retention_statuses(*cat, server);
  for (auto it = statuses.rbegin(); it != statuses.rend(); ++it) {
    const auto& [id, status] = *it;
    if (status != "OBSOLETE") continue;
    Status st = remove_obsolete(config, server, id, say);
    if (!st && first_error.is_ok()) first_error = st;
  }
  return first_error;
}

bool backup_due(const Schedule& schedule, std::optional<std::time_t> last_begin, std::time_t now) {
  if (!last_begin) return true;
  if (schedule.kind == Schedule::Kind::interval) return now - *last_begin >= schedule.interval.count();
  std::tm tm{};
  ::localtime_r(&now, &tm);
  tm.tm_hour = schedule.minute_of_day / 60;
  tm.tm_min = schedule.minute_of_day % 60;
  tm.tm_sec = 0;
  tm.tm_isdst = -1;
  std::time_t slot = std::mktime(&tm);
  if (slot > now) {  // today's slot is still to come: the latest one was yesterday's
    tm.tm_mday -= 1;
    tm.tm_isdst = -1;
    slot = std::mktime(&tm);
  }
  return *last_begin < slot;
}

std::optional<std::time_t> last_backup_begin(const catalog::Catalogue& catalogue) {
  if (catalogue.backups.empty()) return std::nullopt;
  const catalog::BackupEntry& newest = catalogue.backups.back();
  if (newest.info.begin_time) return newest.info.begin_time->epoch;
  const std::string& id = newest.info.backup_id;
  return time_of_id(id.empty() ? newest.dir.substr(newest.dir.rfind('/') + 1) : id);
}

}  // namespace cellar::cron
