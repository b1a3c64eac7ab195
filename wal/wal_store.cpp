#include "wal/wal_store.h"

#include "common/fs.h"
#include "common/storage.h"
#include "config/layout.h"
#include "pg/wal_names.h"

namespace cellar::wal {

std::string wals_dir(const std::string& server_dir) { return layout::wals_dir(server_dir); }

std::string archive_dir_for(const std::string& wals, const std::string& name) {
  const std::string sub = layout::archived_wal_subdir(name);
  return sub.empty() ? wals : join_path(wals, sub);
}

std::optional<ArchivedFile> find_archived(const std::string& wals, const std::string& name) {
  const std::string base = join_path(archive_dir_for(wals, name), name);
  for (codec::Codec c : {codec::Codec::none, codec::Codec::zstd, codec::Codec::lz4, codec::Codec::gzip}) {
    std::string path = base + codec::codec_suffix(c);
    auto e = storage::root().info(path);
    if (e && *e && !(*e)->is_dir) return ArchivedFile{path, c};
  }
  return std::nullopt;
}

bool is_archived(const std::string& server_dir, const std::string& name) {
  return find_archived(wals_dir(server_dir), name).has_value();
}

}  // namespace cellar::wal
