// The primary_repository source of sync/primary.h: the primary's repository,
// mounted at layout::primary_repository_dir by repo::mount_repositories,
// read in place.
#include "catalog/catalogue.h"
#include "common/fs.h"
#include "common/log.h"
#include "config/layout.h"
#include "sync/primary.h"
#include "sync/sync_info.h"
#include "sync/sync_stream.h"
#include "wal/wal_store.h"

namespace cellar::sync {
namespace {

class RepositoryPrimary final : public PrimarySource {
 public:
  RepositoryPrimary(const Config& config, const ServerConfig& server)
      : config_(config), server_(server), dir_(layout::primary_repository_dir(config.server_dir(server.name))) {}

  Result<Json> info(const std::string& last_wal, uint64_t last_position) const override {
    SyncInfoRequest from_bookmark{last_wal, last_position};
    auto doc = make_sync_info_at(config_, server_, dir_, from_bookmark);
    if (doc || last_wal.empty()) return doc;
    // Out of the primary's catalogue (its xlog.db rebuilt or trimmed): a full
    // synchronisation, when the repository itself answers.
    auto full = make_sync_info_at(config_, server_, dir_, SyncInfoRequest{});
    if (full)
      log::warning("the bookmark of server \"" + server_.name + "\" is out of its primary's catalogue (" +
                   doc.status().message() + "): synchronising from the start");
    return full;
  }
  Status wal_files(const std::vector<std::string>& names, TarHandler& to) const override {
    return emit_wal_files(wal::wals_dir(dir_), server_.name, names, to);
  }
  Status backup_files(const std::string& backup_id, TarHandler& to) const override {
    return emit_backup_files(join_path(catalog::base_dir(dir_), backup_id), to);
  }

 private:
  const Config& config_;
  const ServerConfig& server_;
  std::string dir_;
};

}  // namespace

std::unique_ptr<PrimarySource> repository_primary(const Config& config, const ServerConfig& server) {
  return std::make_unique<RepositoryPrimary>(config, server);
}

std::unique_ptr<PrimarySource> primary_of(const Config& config, const ServerConfig& server) {
  if (server.has(Key::primary_repository)) return repository_primary(config, server);
  return ssh_primary(server);
}

}  // namespace cellar::sync
