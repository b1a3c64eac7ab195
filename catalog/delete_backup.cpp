#include "catalog/delete_backup.h"

#include <algorithm>
#include <filesystem>

#include "common/fs.h"
#include "common/log.h"
#include "common/storage_posix.h"
#include "config/layout.h"
#include "config/names.h"
#include "locks/lock_backend.h"
#include "pg/wal_names.h"
#include "wal/wal_store.h"
#include "wal/xlogdb.h"

namespace cellar::catalog {
namespace {

Status refuse_delete(const Catalogue& cat, const BackupEntry& b, int64_t minimum_redundancy) {
  const std::string id = b.info.backup_id;
  if (!b.info.keep.empty())
    return Status::failed("backup " + id + " of server '" + cat.server + "' has a keep request (" + b.info.keep + ")",
                          "release it first: cellar keep --release " + cat.server + " " + id);
  if (b.info.status == BackupStatus::started && b.status == BackupStatus::started)
    return Status::failed("cannot delete running backup " + id + " of server '" + cat.server + "'");
  std::string dependants;
  for (const auto& e : cat.backups)
    if (e.info.parent_backup_id == id && e.status != BackupStatus::failed)
      dependants += (dependants.empty() ? "" : ", ") + e.info.backup_id;
  if (!dependants.empty())
    return Status::failed("cannot delete backup " + id + " of server '" + cat.server +
                              "': incremental backups depend on it (" + dependants + ")",
                          "delete those first, newest first (cellar delete " + cat.server + " ID), or keep the chain");
  long done = std::count_if(cat.backups.begin(), cat.backups.end(),
                            [](const BackupEntry& e) { return e.status == BackupStatus::done; });
  if (b.status == BackupStatus::done && done <= minimum_redundancy)
    return Status::failed(
        "cannot delete backup " + id + " of server '" + cat.server +
            "': minimum redundancy requirements (minimum_redundancy = " + std::to_string(minimum_redundancy) +
            ", current redundancy = " + std::to_string(done) + ")",
        "lower minimum_redundancy or take a new backup first");
  return Status::ok();
}

// WAL segments the deleted backup alone needed: everything before `cutoff`.
std::string wal_cutoff(const Catalogue& cat, const BackupEntry& gone) {
  const BackupEntry* oldest_left = nullptr;
  for (const auto& b : cat.backups)
    if (b.info.backup_id != gone.info.backup_id && b.status != BackupStatus::failed) {
      oldest_left = &b;
      break;
    }
  if (oldest_left) {
    if (oldest_left->info.backup_id < gone.info.backup_id) return "";  // not the oldest: keep all WAL
    return oldest_left->info.begin_wal;
  }
  auto segs = required_segments(gone.info);
  if (segs.empty()) return "";
  uint64_t seg_size = gone.info.xlog_segment_size.value_or(0);
  auto last = pg::parse_wal_file_name(segs.back(), seg_size ? seg_size : pg::kDefaultSegmentSize);
  return pg::make_segment_name(last->tli, last->segno + 1, seg_size ? seg_size : pg::kDefaultSegmentSize);
}

bool removable(const std::string& name, const std::string& cutoff) {
  if (name.size() < 24 || name.find(".history") != std::string::npos) return false;
  return name.substr(0, 24) < cutoff;
}

Result<std::vector<std::string>> remove_wals(const Config& config, const Catalogue& cat, const std::string& cutoff) {
  std::vector<std::string> removed;
  if (cutoff.empty()) return removed;
  auto lock = locks::XlogdbLock::acquire(locks::lock_manager(config), cat.server);
  if (!lock) return lock.status();
  std::string path = wal::xlogdb_path(cat.server_dir);
  auto db = wal::load_xlogdb(path);
  if (!db) return db.status();
  std::vector<wal::XlogEntry> kept;
  for (const auto& e : db->entries) {
    if (removable(e.name, cutoff))
      removed.push_back(e.name);
    else
      kept.push_back(e);
  }
  if (removed.empty()) return removed;
  if (Status st = wal::save_xlogdb(*lock, path, kept); !st) return st;
  std::string wals = wal::wals_dir(cat.server_dir);
  for (const auto& name : removed)
    if (auto f = wal::find_archived(wals, name))
      if (Status st = storage::root().remove(f->path); !st) log::warning(st.message());
  return removed;
}

// Takes backup `dir` out of every listing in one step that survives a crash:
// a durable rename to "<id>.deleting" on a filesystem; in an object store,
// which cannot rename, the removal of its backup.info (a directory without
// one is no backup, and clean_interrupted_deletes removes what is left).
Result<std::string> hide_backup(const std::string& dir) {
  if (auto local = storage::root().local_path(dir)) {
    if (Status st = storage::durable_rename(-1, *local, *local + ".deleting"); !st) return st;
    return dir + ".deleting";
  }
  if (Status st = storage::root().remove(layout::backup_info_file(dir)); !st) return st;
  return dir;
}

// A backup directory that no backup owns any more: renamed for deletion, or
// (object stores) without backup.info and not being written by a backup.
bool is_leftover(const storage::Entry& e, const std::string& dir, locks::LockManager& locks,
                 const std::string& server) {
  if (e.name.size() > 9 && e.name.compare(e.name.size() - 9, 9, ".deleting") == 0) return true;
  if (!e.is_dir || !is_backup_id(e.name) || storage::root().local_path(dir)) return false;
  return !storage::exists(storage::root(), layout::backup_info_file(dir)) && !backup_in_use(locks, server, e.name);
}

}  // namespace

void clean_interrupted_deletes(const std::string& server_dir, locks::LockManager& locks, const std::string& server) {
  auto entries = storage::root().list(base_dir(server_dir));
  if (!entries) return;
  for (const auto& e : *entries) {
    const std::string dir = join_path(base_dir(server_dir), e.name);
    if (!is_leftover(e, dir, locks, server)) continue;
    if (Status st = storage::root().remove_tree(dir); !st) log::warning(st.message());
  }
}

Result<DeleteReport> delete_backup(const Config& config, const ServerConfig& server, const std::string& arg) {
  // 1. Find the backup and check that it may go.
  auto cat = load_catalogue(config, server.name);
  if (!cat) return cat.status();
  auto found = cat->resolve(arg);
  if (!found) return found.status();
  const BackupEntry& b = **found;
  if (Status st = refuse_delete(*cat, b, server.minimum_redundancy()); !st) return st;
  // 2. Hold its id lock: nobody verifies, restores or writes it meanwhile.
  auto lock = locks::BackupIdLock::acquire(locks::lock_manager(config), server.name, b.info.backup_id);
  if (!lock) return lock.status();
  // 3. One durable step hides it from every reader, while the lock is still
  //    ours (fencing, SPEC §9).
  if (Status st = lock->check_current(); !st) return st.prefix("backup " + b.info.backup_id + " not deleted");
  auto doomed = hide_backup(b.dir);
  if (!doomed) return doomed.status();
  // 4. WAL that no remaining backup needs.
  auto wals = remove_wals(config, *cat, wal_cutoff(*cat, b));
  if (!wals) return wals.status();
  // 5. The files.
  if (Status st = storage::root().remove_tree(*doomed); !st) return st;
  clean_interrupted_deletes(cat->server_dir, *cat->locks, server.name);
  return DeleteReport{b.info.backup_id, std::move(*wals)};
}

Status set_keep(const Config& config, const ServerConfig& server, const std::string& arg, const std::string& target) {
  auto cat = load_catalogue(config, server.name);
  if (!cat) return cat.status();
  auto found = cat->resolve(arg);
  if (!found) return found.status();
  const BackupEntry& b = **found;
  if (!target.empty() && b.status != BackupStatus::done)
    return Status::failed("cannot keep backup " + b.info.backup_id + " because it has status " + status_name(b.status),
                          "only backups with status DONE can be kept");
  auto lock = locks::BackupIdLock::acquire(locks::lock_manager(config), server.name, b.info.backup_id);
  if (!lock) return lock.status();
  auto info = load_backup_info(b.dir);
  if (!info) return info.status();
  info->keep = target;
  return save_backup_info(b.dir, *info);
}

}  // namespace cellar::catalog
