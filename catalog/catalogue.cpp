#include "catalog/catalogue.h"

#include <algorithm>

#include "common/fs.h"
#include "common/log.h"
#include "common/storage.h"
#include "config/layout.h"
#include "config/names.h"
#include "pg/wal_names.h"
#include "wal/wal_store.h"
#include "wal/xlogdb.h"

namespace cellar::catalog {
namespace {

bool is_reserved(const std::string& s) {
  return s == "latest" || s == "last" || s == "oldest" || s == "first" || s == "last-failed";
}

Status unknown_backup(const std::string& arg, const std::string& server) {
  return Status::usage("unknown backup '" + arg + "' for server '" + server + "'",
                       "run 'cellar list-backups " + server + "' to see its backups");
}

}  // namespace

std::string base_dir(const std::string& server_dir) { return layout::base_dir(server_dir); }

bool backup_in_use(locks::LockManager& locks, const std::string& server, const std::string& id) {
  auto owner = locks.owner({locks::LockKind::backup_id, server, id});
  return !owner || owner->has_value();
}

// What a backup past its copy must have: "" or "lacks begin_wal, end_time".
static std::string missing_fields(const BackupInfo& info, const std::string& id) {
  std::string missing;
  auto lacks = [&](bool absent, const char* key) {
    if (absent) missing += (missing.empty() ? "" : ", ") + std::string(key);
  };
  lacks(info.begin_wal.empty(), "begin_wal");
  lacks(info.end_wal.empty(), "end_wal");
  lacks(!info.end_time, "end_time");
  lacks(!info.timeline, "timeline");
  if (!missing.empty()) return "lacks " + missing;
  if (info.backup_id != id) return "names backup " + info.backup_id + ", not its directory " + id;
  return "";
}

Result<Catalogue> load_catalogue(const Config& config, const std::string& server) {
  return load_catalogue_at(config, server, config.server_dir(server));
}

Result<Catalogue> load_catalogue_at(const Config& config, const std::string& server, const std::string& server_dir) {
  Catalogue cat{server, server_dir, &locks::lock_manager(config), {}};
  std::string base = base_dir(cat.server_dir);
  auto entries = storage::root().list(base);
  if (!entries) return entries.status();
  for (const auto& e : *entries) {
    const std::string& id = e.name;
    if (!e.is_dir || !is_backup_id(id)) continue;
    std::string dir = join_path(base, id);
    auto info = load_backup_info(dir);
    if (!info) {
      log::warning("skipping backup " + id + " of server '" + server + "': " + info.status().message());
      continue;
    }
    BackupStatus status = info->status;
    if (status == BackupStatus::started && !backup_in_use(*cat.locks, server, id)) status = BackupStatus::failed;
    if (info->backup_id.empty()) info->backup_id = id;  // so that `delete` can name it
    if (std::string missing = missing_fields(*info, id);
        !missing.empty() && info->status != BackupStatus::failed && info->status != BackupStatus::started) {
      // Never a DONE (or WAITING_FOR_WALS) backup that recover, retention
      // and minimum_redundancy would trust without knowing its WAL.
      log::warning("backup " + id + " of server '" + server + "' counts as FAILED: its backup.info " + missing);
      info->error = "backup.info " + missing;
      status = BackupStatus::failed;
    }
    cat.backups.push_back({std::move(*info), dir, status});
  }
  return cat;
}

Result<const BackupEntry*> Catalogue::resolve(const std::string& arg) const {
  const BackupEntry* found = nullptr;
  auto newest = [&](auto pred) -> const BackupEntry* {
    for (auto it = backups.rbegin(); it != backups.rend(); ++it)
      if (pred(*it)) return &*it;
    return nullptr;
  };
  auto copy_done = [](const BackupEntry& b) { return b.copy_done(); };
  if (arg == "latest" || arg == "last")
    found = newest(copy_done);
  else if (arg == "oldest" || arg == "first") {
    auto it = std::find_if(backups.begin(), backups.end(), copy_done);
    found = it == backups.end() ? nullptr : &*it;
  } else if (arg == "last-failed") {
    found = newest([](const BackupEntry& b) { return b.status == BackupStatus::failed; });
  } else if (is_backup_id(arg)) {
    found = newest([&](const BackupEntry& b) { return b.info.backup_id == arg; });
  } else {
    std::vector<const BackupEntry*> named;
    for (const auto& b : backups)
      if (b.info.backup_name == arg) named.push_back(&b);
    if (named.size() > 1) {
      std::string ids;
      for (auto* b : named) ids += (ids.empty() ? "" : ", ") + b->info.backup_id;
      return Status::usage("multiple backups of server '" + server + "' are named '" + arg + "': " + ids,
                           "use the backup id instead");
    }
    if (!named.empty()) found = named.front();
  }
  if (!found) return unknown_backup(arg, server);
  (void)is_reserved;
  return found;
}

const BackupEntry* Catalogue::previous_done(const std::string& id) const {
  for (auto it = backups.rbegin(); it != backups.rend(); ++it)
    if (it->info.backup_id < id && it->status == BackupStatus::done) return &*it;
  return nullptr;
}

Status fail_stale_backups(const locks::ServerBackupLock&, const Catalogue& catalogue) {
  for (const auto& b : catalogue.backups) {
    if (b.info.status != BackupStatus::started || b.status != BackupStatus::failed) continue;
    BackupInfo info = b.info;
    info.status = BackupStatus::failed;
    info.error = "backup process died (found STARTED with no process holding its lock)";
    if (Status st = save_backup_info(b.dir, info); !st) return st;
    log::warning("backup " + b.info.backup_id + " of server '" + catalogue.server + "' was interrupted: marked FAILED");
  }
  return Status::ok();
}

std::vector<std::string> required_segments(const BackupInfo& info) {
  std::vector<std::string> out;
  uint64_t seg_size = info.xlog_segment_size.value_or(0);
  if (seg_size == 0) seg_size = pg::kDefaultSegmentSize;
  auto begin = pg::parse_wal_file_name(info.begin_wal, seg_size);
  auto end = pg::parse_wal_file_name(info.end_wal, seg_size);
  if (!begin || !end || begin->tli != end->tli) return out;
  for (pg::SegNo s = begin->segno; s <= end->segno; ++s) out.push_back(pg::make_segment_name(begin->tli, s, seg_size));
  return out;
}

Result<BackupStatus> check_backup_wals(const locks::BackupIdLock& lock, const std::string& server_dir,
                                       const std::string& backup_dir) {
  auto info = load_backup_info(backup_dir);
  if (!info) return info.status();
  if (info->status != BackupStatus::waiting_for_wals) return info->status;
  auto segments = required_segments(*info);
  if (segments.empty()) return Status::failed("backup " + info->backup_id + " has no valid begin_wal/end_wal");
  auto missing = std::find_if(segments.begin(), segments.end(),
                              [&](const std::string& s) { return !wal::is_archived(server_dir, s); });
  if (missing == segments.end()) {
    info->status = BackupStatus::done;
  } else {
    // Missing for good only if something later is already archived.
    bool later =
        std::any_of(missing + 1, segments.end(), [&](const std::string& s) { return wal::is_archived(server_dir, s); });
    if (!later) {
      auto db = wal::load_xlogdb(wal::xlogdb_path(server_dir));
      const wal::XlogEntry* last = db ? db->last() : nullptr;
      later = last && pg::is_segment_name(last->name) && last->name > *missing;
    }
    if (!later) return info->status;
    info->status = BackupStatus::failed;
    info->error = "at least one WAL file is missing: the first missing WAL file is " + *missing;
  }
  // Fencing (SPEC §9): the final backup.info only while the id lock is still ours.
  if (Status st = lock.check_current(); !st) return st.prefix("backup " + info->backup_id + " not settled");
  if (Status st = save_backup_info(backup_dir, *info); !st) return st;
  return info->status;
}

}  // namespace cellar::catalog
