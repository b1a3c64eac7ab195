// The primary_repository source of sync/primary.h: the primary's repository,
// mounted at layout::primary_repository_dir by repo::mount_repositories,
// read in place.
#include "catalog/catalogue.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/storage.h"
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
    // An empty listing is no answer: a mistyped prefix, an unmounted share.
    auto identity = storage::root().info(layout::identity_file(dir_));
    if (!identity) return identity.status();
    if (!*identity)
      return Status::failed("the primary repository of server \"" + server_.name + "\" (\"" +
                                storage::root().describe(dir_) + "\") holds no repository of that server",
                            "check primary_repository and the S3 keys, and that the primary has received WAL or "
                            "made a backup");
    SyncInfoRequest from_bookmark{last_wal, last_position};
    auto doc = make_sync_info_at(config_, server_, dir_, from_bookmark);
    if (doc || last_wal.empty()) return doc;
    // The bookmark may be out of the primary's catalogue (its xlog.db was
    // rebuilt or trimmed): a full synchronisation, when that one answers.
    auto full = make_sync_info_at(config_, server_, dir_, SyncInfoRequest{});
    if (full)
      log::warning("sync-info of server \"" + server_.name + "\" from its bookmark failed (" + doc.status().message() +
                   "): synchronising from the start");
    return full;
  }
  Status wal_files(const std::vector<std::string>& names, TarHandler& to) const override {
    return emit_wal_files(wal::wals_dir(dir_), server_.name, names, to);
  }
  Status backup_files(const std::string& backup_id, TarHandler& to) const override {
    // Still DONE there (no primary process holds it for us, unless the lock
    // backend is shared): else a clear message rather than a manifest mismatch.
    const std::string dir = join_path(catalog::base_dir(dir_), backup_id);
    auto info = catalog::load_backup_info(dir);
    if (!info) return info.status();
    if (info->status != catalog::BackupStatus::done)
      return Status::failed("backup " + backup_id + " of server \"" + server_.name +
                            "\" is no longer DONE in the primary repository (" + catalog::status_name(info->status) +
                            ")");
    return emit_backup_files(dir, to);
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
