#include "wal/rebuild_xlogdb.h"

#include <algorithm>
#include <set>
#include <vector>

#include "common/fs.h"
#include "common/storage.h"
#include "common/storage_mount.h"
#include "config/layout.h"
#include "wal/xlogdb.h"

namespace cellar::wal {
namespace {

// One archived WAL file under wals/ as xlog.db describes it, if it is one.
std::optional<XlogEntry> entry_of(const std::string& wals, const std::string& rel, const storage::Entry& e) {
  auto parsed = layout::parse_path("wals/" + rel);
  if (!parsed || parsed->kind != layout::PathKind::archived_wal) return std::nullopt;
  return XlogEntry{parsed->wal_name, e.size, static_cast<double>(e.mtime), parsed->codec,
                   storage::filter_id_of(join_path(wals, rel))};
}

}  // namespace

Result<RebuildReport> rebuild_xlogdb(const locks::XlogdbLock& lock, const std::string& server_dir) {
  const std::string path = xlogdb_path(server_dir);
  auto old = load_xlogdb(path);
  std::set<std::string> before;
  if (old)
    for (const auto& e : old->entries) before.insert(e.name);
  const std::string wals = layout::wals_dir(server_dir);
  auto files = storage::root().list_tree(wals);
  if (!files) return files.status();
  std::vector<XlogEntry> entries;
  for (const auto& f : *files)
    if (!f.is_dir)
      if (auto e = entry_of(wals, f.name, f)) entries.push_back(*e);
  std::sort(entries.begin(), entries.end(), [](const XlogEntry& a, const XlogEntry& b) { return a.name < b.name; });
  RebuildReport report;
  report.entries = entries.size();
  std::set<std::string> after;
  for (const auto& e : entries) {
    after.insert(e.name);
    if (!before.count(e.name)) ++report.added;
  }
  for (const auto& n : before)
    if (!after.count(n)) ++report.dropped;
  if (Status st = save_xlogdb(lock, path, entries); !st) return st;
  return report;
}

}  // namespace cellar::wal
