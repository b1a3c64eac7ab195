// sync-backup and the passive cron step (backup/sync.h).
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "catalog/catalogue.h"
#include "catalog/verify.h"
#include "common/fs.h"
#include "common/storage.h"
#include "common/tar_reader.h"
#include "config/layout.h"
#include "config/names.h"
#include "locks/lock_backend.h"
#include "sync/primary.h"
#include "sync/sync.h"

namespace cellar::sync {
namespace {

// Files a backup's sync stream under its directory: directories created,
// files through storage writes committed once complete (their directory
// fsyncs batched in finish(), before the backup can be marked anything but
// SYNCING); an unfinished file is abandoned with the receiver.
class BackupReceiver : public TarHandler {
 public:
  explicit BackupReceiver(std::string dir) : dir_(std::move(dir)) {}
  Status on_member(const TarMember& m) override {
    if (!safe_member_name(m.name) || m.name == layout::kBackupInfoName || m.name.find("//") != std::string::npos ||
        m.name.back() == '/')
      return Status::failed("the primary sent an unexpected member \"" + m.name + "\"");
    const std::string path = join_path(dir_, m.name);
    if (m.type == TarType::directory) {
      dirs_.insert(path);
      return storage::root().make_dir(path);
    }
    if (m.type != TarType::file) return Status::failed("the primary sent a non-file member \"" + m.name + "\"");
    dirs_.insert(dirname_of(path));
    if (Status s = storage::root().make_dir(dirname_of(path)); !s) return s;
    storage::WriteOptions wo;
    wo.sync_dir = false;
    auto out = storage::root().open_write(path, wo);
    if (!out) return out.status();
    out_ = std::move(*out);
    return Status::ok();
  }
  Status on_member_data(std::string_view bytes) override { return out_ ? out_->write(bytes) : Status::ok(); }
  Status on_member_end() override {
    if (!out_) return Status::ok();
    Status s = out_->commit();
    out_.reset();
    return s;
  }
  Status finish() {
    for (const auto& d : dirs_)
      if (Status s = storage::root().sync_dir(d); !s) return s;
    return storage::root().sync_dir(dir_);
  }

 private:
  std::string dir_;
  std::unique_ptr<storage::Writer> out_;
  std::set<std::string> dirs_;
};

// backup.info of the copy: the primary's fields (those this node does not
// know kept as they are), status SYNCING.
Result<catalog::BackupInfo> info_from_primary(const Json& remote, const std::string& server) {
  catalog::BackupInfo info;
  if (!remote.is_object()) return Status::failed("the primary sent an invalid backup description");
  for (const auto& [key, value] : remote.as_object()) {
    if (key.empty() || key.find_first_not_of("abcdefghijklmnopqrstuvwxyz_0123456789") != std::string::npos ||
        !(value.is_string() || value.is_null()))
      return Status::failed("the primary sent an invalid backup.info key \"" + key + "\"");
    std::string v = value.is_null() ? "" : value.as_string();
    if (v.find('\n') != std::string::npos)
      return Status::failed("the primary sent a multi-line value for \"" + key + "\"");
    if (Status s = catalog::parse_info_field(info, key, v); !s)
      return s.prefix("the primary sent an invalid backup description");
  }
  info.server_name = server;
  info.status = catalog::BackupStatus::syncing;
  info.error.clear();
  return info;
}

// Copies and verifies; the caller turns an error into FAILED.
Status copy_and_verify(const locks::BackupIdLock& id_lock, const PrimarySource& primary, const std::string& id,
                       catalog::BackupEntry& entry) {
  BackupReceiver receiver(entry.dir);
  Status s = primary.backup_files(id, receiver);
  if (s) s = receiver.finish();
  if (!s) return s;
  auto report = catalog::verify_backup(id_lock, entry);
  if (!report) return report.status();
  if (!report->ok())
    return Status::failed(
        "the copy does not match its manifest: " + report->problems.front() +
        (report->problems.size() > 1 ? " (and " + std::to_string(report->problems.size() - 1) + " more)" : ""));
  return Status::ok();
}

}  // namespace

Result<std::string> sync_backup(const locks::SyncBackupLock& lock, const Config& config, const ServerConfig& server,
                                const std::string& backup_id) {
  (void)lock;
  if (!server.passive())
    return Status::usage("server \"" + server.name + "\" is not passive",
                         "set primary_ssh_command or primary_repository to make it one");
  if (!is_backup_id(backup_id)) return Status::usage("\"" + backup_id + "\" is not a backup id");
  auto id_lock = locks::BackupIdLock::acquire(locks::lock_manager(config), server.name, backup_id);
  if (!id_lock) return id_lock.status();

  // 1. The primary must have it DONE.
  auto source = primary_of(config, server);
  auto primary = source->info("", 0);
  if (!primary) return primary.status();
  const Json* remote = primary->find("backups")->find(backup_id);
  if (!remote)
    return Status::failed("backup " + backup_id + " is not DONE on the primary node of server \"" + server.name + "\"");
  // 2. Already here: nothing to do; a failed or interrupted copy starts over.
  const std::string server_dir = config.server_dir(server.name);
  catalog::BackupEntry entry{{}, join_path(catalog::base_dir(server_dir), backup_id), catalog::BackupStatus::syncing};
  if (auto local = catalog::load_backup_info(entry.dir); local && local->copy_done())
    return catalog::status_name(local->status);
  if (Status s = storage::root().remove_tree(entry.dir); !s) return s;
  // 3. backup.info first, SYNCING, so a crash leaves a visible non-DONE backup.
  auto info = info_from_primary(*remote, server.name);
  if (!info) return info.status();
  entry.info = *info;
  if (Status s = storage::root().make_dir(entry.dir); !s) return s;
  if (Status s = catalog::save_backup_info(entry.dir, entry.info); !s) return s;
  // 4. Copy and verify every file; any error → FAILED.
  if (Status s = copy_and_verify(*id_lock, *source, backup_id, entry); !s) {
    entry.info.status = catalog::BackupStatus::failed;
    entry.info.error = "failure syncing server " + server.name + " backup " + backup_id + ": " + s.message();
    (void)catalog::save_backup_info(entry.dir, entry.info);
    return s.prefix("failure syncing server \"" + server.name + "\" backup " + backup_id);
  }
  // 5. DONE once its WAL is here too (else WAITING_FOR_WALS until sync-wal brings it).
  entry.info.status = catalog::BackupStatus::waiting_for_wals;
  if (Status s = catalog::save_backup_info(entry.dir, entry.info); !s) return s;
  auto settled = catalog::check_backup_wals(*id_lock, server_dir, entry.dir);
  if (!settled) return settled.status();
  return catalog::status_name(*settled);
}

}  // namespace cellar::sync
