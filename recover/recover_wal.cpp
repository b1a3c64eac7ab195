#include "recover/recover_wal.h"

#include "catalog/catalogue.h"
#include "common/fs.h"
#include "wal/wal_store.h"
#include "wal/xlogdb.h"

namespace cellar::recover {
namespace {

uint64_t segment_size_of(const catalog::BackupInfo& info) {
  uint64_t size = info.xlog_segment_size.value_or(0);
  return size == 0 ? pg::kDefaultSegmentSize : size;
}

// Whether recovery from this backup to `target` may read `name`.
bool needed(const pg::WalFileName& name, const pg::WalFileName& begin, const pg::WalFileName& end,
            const PreparedTarget& target, uint64_t seg_size) {
  if (name.kind == pg::WalFileKind::history) return true;
  if (name.kind != pg::WalFileKind::segment) return false;
  if (name.tli < begin.tli || (target.tli && name.tli > *target.tli)) return false;
  if (name.segno < begin.segno) return false;
  if (target.immediate) return name.segno <= end.segno;
  if (target.lsn) return name.segno <= pg::segno_of(*target.lsn, seg_size) + 1;
  return true;
}

}  // namespace

Status check_backup_wal_archived(const std::string& server_dir, const catalog::BackupInfo& info) {
  std::string wals = wal::wals_dir(server_dir);
  auto segments = catalog::required_segments(info);
  if (segments.empty()) return Status::failed("backup " + info.backup_id + " has no valid begin_wal/end_wal");
  for (const auto& s : segments)
    if (!wal::find_archived(wals, s))
      return Status::failed("WAL file " + s + " needed by backup " + info.backup_id + " is not in the archive",
                            "run 'cellar archive-wal' and check the archive of the server");
  return Status::ok();
}

Result<std::vector<CopyJob>> plan_wal(const std::string& server_dir, const catalog::BackupInfo& info,
                                      const PreparedTarget& target, const std::string& dest_dir) {
  if (Status st = check_backup_wal_archived(server_dir, info); !st) return st;
  uint64_t seg_size = segment_size_of(info);
  auto begin = pg::parse_wal_file_name(info.begin_wal, seg_size);
  auto end = pg::parse_wal_file_name(info.end_wal, seg_size);
  auto db = wal::load_xlogdb(wal::xlogdb_path(server_dir));
  if (!db) return db.status();
  std::string wals = wal::wals_dir(server_dir);
  std::vector<CopyJob> jobs;
  for (const auto& entry : db->entries) {
    auto name = pg::parse_wal_file_name(entry.name, seg_size);
    if (!name || !needed(*name, *begin, *end, target, seg_size)) continue;
    auto stored = wal::find_archived(wals, entry.name);
    if (!stored) return Status::failed("WAL file " + entry.name + " is in xlog.db but not in \"" + wals + "\"");
    jobs.push_back({stored->path, join_path(dest_dir, entry.name), stored->codec, {}, {}});
  }
  return jobs;
}

}  // namespace cellar::recover
