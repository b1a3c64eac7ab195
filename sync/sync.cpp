// sync-wal and the passive cron step (backup/sync.h).
#include "sync/sync.h"

#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <optional>

#include "catalog/catalogue.h"
#include "common/fs.h"
#include "common/storage.h"
#include "common/storage_mount.h"
#include "common/tar_reader.h"
#include "config/layout.h"
#include "config/names.h"
#include "locks/lock_backend.h"
#include "pg/wal_names.h"
#include "sync/primary.h"
#include "wal/wal_store.h"
#include "wal/xlogdb.h"

namespace cellar::sync {
namespace {

constexpr uint64_t kSmallestSegmentSize = 1024 * 1024;
constexpr size_t kNamesPerRequest = 256;  // keeps the remote command line short

struct Bookmark {
  std::string last_name;
  uint64_t last_position = 0;
};

std::string bookmark_path(const std::string& server_dir) { return layout::sync_bookmark_file(server_dir); }

Bookmark load_bookmark(const std::string& server_dir) {
  auto text = storage::read_file(storage::root(), bookmark_path(server_dir));
  if (!text) return {};
  size_t tab = text->find('\t');
  if (tab == std::string::npos) return {};
  Bookmark b{text->substr(0, tab), 0};
  try {
    b.last_position = std::stoull(text->substr(tab + 1));
  } catch (...) {
    return {};
  }
  if (!pg::parse_wal_file_name(b.last_name, kSmallestSegmentSize)) return {};
  return b;
}

// The primary's catalogue entries this node lacks, validated.
Result<std::vector<wal::XlogEntry>> wanted_wal(const Json& info, const wal::XlogDb& local) {
  std::vector<wal::XlogEntry> out;
  for (const Json& w : info.find("wals")->as_array()) {
    const Json* name = w.find("name");
    const Json* size = w.find("size");
    const Json* time = w.find("time");
    const Json* comp = w.find("compression");
    if (!name || !name->is_string() || !size || !size->is_int() || !time || !time->is_number() || !comp ||
        !comp->is_string() || !pg::parse_wal_file_name(name->as_string(), kSmallestSegmentSize) ||
        !codec::parse_codec(comp->as_string()))
      return Status::failed("the primary sent an invalid WAL entry: " + w.dump(-1));
    if (local.contains(name->as_string())) continue;
    out.push_back({name->as_string(),
                   static_cast<uint64_t>(size->as_int()),
                   time->as_double(),
                   *codec::parse_codec(comp->as_string()),
                   {}});
  }
  return out;
}

// Files each member of a sync stream under wals/ durably, checking that it
// is one of the expected WAL files with the expected size.
class WalReceiver : public TarHandler {
 public:
  WalReceiver(std::string wals, const std::vector<wal::XlogEntry>& expected) : wals_(std::move(wals)) {
    for (const auto& e : expected) expected_[e.name] = e;
  }
  Status on_member(const TarMember& m) override {
    size_t slash = m.name.rfind('/');
    std::string base = slash == std::string::npos ? m.name : m.name.substr(slash + 1);
    codec::Codec c = codec::codec_of_suffix(base);
    std::string name = base.substr(0, base.size() - std::string(codec::codec_suffix(c)).size());
    auto it = expected_.find(name);
    if (m.type != TarType::file || it == expected_.end() || it->second.compression != c)
      return Status::failed("the primary sent an unexpected file \"" + m.name + "\"");
    if (m.size != it->second.size)
      return Status::failed("size mismatch for WAL \"" + name + "\": the catalogue says " +
                            std::to_string(it->second.size) + " bytes, the stream " + std::to_string(m.size));
    current_ = name;
    dir_ = wal::archive_dir_for(wals_, name);
    storage::WriteOptions wo;
    wo.make_parents = true;
    auto out = storage::root().open_write(join_path(dir_, base), wo);
    if (!out) return out.status();
    out_ = std::move(*out);
    return Status::ok();
  }
  Status on_member_data(std::string_view bytes) override { return out_->write(bytes); }
  Status on_member_end() override {
    if (out_->written() != expected_[current_].size) return Status::failed("short copy of \"" + current_ + "\"");
    if (Status s = out_->commit(); !s) return s;
    out_.reset();
    received_.push_back(current_);
    return Status::ok();
  }
  void discard_temp() { out_.reset(); }
  size_t received() const { return received_.size(); }

 private:
  std::string wals_;
  std::map<std::string, wal::XlogEntry> expected_;
  std::string current_, dir_;
  std::unique_ptr<storage::Writer> out_;  // abandoned unless committed
  std::vector<std::string> received_;
};

// Fetches `batch` from the primary and files it.
Status receive_batch(const PrimarySource& primary, const std::string& wals, const std::vector<wal::XlogEntry>& batch) {
  std::vector<std::string> names;
  for (const auto& e : batch) names.push_back(e.name);
  WalReceiver receiver(wals, batch);
  Status s = primary.wal_files(names, receiver);
  if (s && receiver.received() != batch.size())
    s = Status::failed("the primary sent " + std::to_string(receiver.received()) + " of " +
                       std::to_string(batch.size()) + " WAL files");
  if (!s) receiver.discard_temp();
  return s;
}

std::string not_passive_hint() { return "set primary_ssh_command or primary_repository to make it one"; }

}  // namespace

Result<SyncWalResult> sync_wal(const locks::SyncWalLock& lock, const Config& config, const ServerConfig& server) {
  (void)lock;
  if (!server.passive()) return Status::usage("server \"" + server.name + "\" is not passive", not_passive_hint());
  const std::string server_dir = config.server_dir(server.name);
  const std::string wals = wal::wals_dir(server_dir);
  auto primary = primary_of(config, server);
  if (Status s = storage::root().make_dir(wals); !s) return s;

  // 1. Ask the primary what it has after our bookmark.
  Bookmark mark = load_bookmark(server_dir);
  auto info = primary->info(mark.last_name, mark.last_position);
  if (!info) return info.status();
  // 2. Keep what this node lacks.
  auto local = wal::load_xlogdb(wal::xlogdb_path(server_dir));
  if (!local) return local.status();
  auto wanted = wanted_wal(*info, *local);
  if (!wanted) return wanted.status();
  // 3. Copy and catalogue by batches, so an interruption keeps what arrived.
  for (size_t at = 0; at < wanted->size(); at += kNamesPerRequest) {
    std::vector<wal::XlogEntry> batch(
        wanted->begin() + static_cast<long>(at),
        wanted->begin() + static_cast<long>(std::min(wanted->size(), at + kNamesPerRequest)));
    if (Status s = receive_batch(*primary, wals, batch); !s)
      return s.prefix("WAL synchronisation of server \"" + server.name + "\" failed");
    // Catalogued as stored here: this node's repository may encrypt what
    // the primary sent in the clear (xlog.db's fifth field).
    for (auto& e : batch)
      e.encryption = storage::filter_id_of(
          join_path(wal::archive_dir_for(wals, e.name), e.name + codec::codec_suffix(e.compression)));
    auto xlogdb_lock = locks::XlogdbLock::acquire(locks::lock_manager(config), server.name);
    if (!xlogdb_lock) return xlogdb_lock.status();
    if (Status s = wal::append_xlogdb(*xlogdb_lock, wal::xlogdb_path(server_dir), batch); !s) return s;
  }
  // 4. Remember where the primary's catalogue ended.
  SyncWalResult result{wanted->size(),
                       info->find("last_name")->is_string() ? info->find("last_name")->as_string() : ""};
  if (!result.last_name.empty() && info->find("last_position")->is_int()) {
    std::string text = result.last_name + "\t" + std::to_string(info->find("last_position")->as_int());
    if (Status s = storage::write_file(storage::root(), bookmark_path(server_dir), text); !s) return s;
  }
  return result;
}

namespace {

// A lock of `name` is free right now (cron never waits): else ErrorCode::busy.
Status probe_lock(const Config& config, const locks::LockName& name) {
  auto probe = locks::lock_manager(config).acquire(name, locks::AcquireRequest{});
  return probe ? Status::ok() : probe.status();
}

// The oldest backup DONE on the primary and not copied here, or "".
Result<std::string> next_backup_to_sync(const Config& config, const ServerConfig& server) {
  auto primary = primary_of(config, server)->info("", 0);
  if (!primary) return primary.status();
  auto local = catalog::load_catalogue(config, server.name);
  if (!local) return local.status();
  std::string next;
  for (const auto& [id, _] : primary->find("backups")->as_object()) {
    bool here = false;
    for (const auto& b : local->backups) here = here || (b.info.backup_id == id && b.copy_done());
    if (!here && is_backup_id(id) && (next.empty() || id < next)) next = id;
  }
  return next;
}

// WAITING_FOR_WALS backups whose WAL sync-wal brought: DONE.
Status settle_backups(const Config& config, const ServerConfig& server, std::vector<std::string>& lines) {
  auto local = catalog::load_catalogue(config, server.name);
  if (!local) return local.status();
  for (const auto& b : local->backups) {
    if (b.status != catalog::BackupStatus::waiting_for_wals) continue;
    auto id_lock = locks::BackupIdLock::acquire(locks::lock_manager(config), server.name, b.info.backup_id);
    if (!id_lock) continue;  // in use: the next cron settles it
    auto now = catalog::check_backup_wals(*id_lock, config.server_dir(server.name), b.dir);
    if (!now) return now.status();
    if (*now == b.status) continue;
    lines.push_back("backup " + b.info.backup_id + " of server \"" + server.name + "\" is " +
                    catalog::status_name(*now));
  }
  return Status::ok();
}

}  // namespace

Result<std::vector<std::string>> run_passive_sync(const Config& config, const ServerConfig& server) {
  std::vector<std::string> lines;
  Status backup_error = Status::ok();
  // 1. At most one sync-backup per run, the oldest missing backup.
  auto next = next_backup_to_sync(config, server);
  if (!next) return next.status();
  if (!next->empty()) {
    Status free = probe_lock(config, {locks::LockKind::sync_backup, server.name, *next});
    auto lock = free ? locks::SyncBackupLock::acquire(locks::lock_manager(config), server.name, *next)
                     : Result<locks::SyncBackupLock>(free);
    auto status = lock ? sync_backup(*lock, config, server, *next) : Result<std::string>(lock.status());
    if (status)
      lines.push_back("backup " + *next + " of server \"" + server.name + "\" synchronised: " + *status);
    else if (status.status().code() == ErrorCode::busy)
      lines.push_back(status.status().message());
    else
      backup_error = status.status();
  }
  // 2. WAL, unless a sync-wal is already running.
  if (Status free = probe_lock(config, {locks::LockKind::sync_wal, server.name, ""}); !free) {
    lines.push_back(free.message());
  } else {
    auto lock = locks::SyncWalLock::acquire(locks::lock_manager(config), server.name);
    if (!lock) return lock.status();
    auto done = sync_wal(*lock, config, server);
    if (!done) return done.status();
    lines.push_back(std::to_string(done->copied) + " WAL file(s) synchronised for server \"" + server.name + "\"");
  }
  // 3. Backups whose WAL has now arrived.
  if (Status s = settle_backups(config, server, lines); !s) return s;
  if (!backup_error) return backup_error;
  return lines;
}

}  // namespace cellar::sync
