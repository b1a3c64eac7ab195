// The passive-node commands: sync-info and sync-send (primary side),
// sync-wal and sync-backup (passive side).
#include <iostream>

#include "cli/handlers.h"
#include "config/names.h"
#include "locks/lock_backend.h"
#include "locks/typed_lock.h"
#include "sync/sync.h"
#include "sync/sync_info.h"
#include "sync/sync_stream.h"

namespace cellar::cli {

namespace {

Result<std::optional<uint64_t>> parse_position(const std::string& text) {
  if (text.empty()) return std::optional<uint64_t>();
  if (text.find_first_not_of("0123456789") != std::string::npos || text.size() > 19)
    return Status::usage("LAST_POSITION \"" + text + "\" is not a byte offset (a non-negative integer)");
  return std::optional<uint64_t>(std::stoull(text));
}

}  // namespace

Outcome run_sync_info(Invocation& inv, const ServerConfig& server) {
  auto position = parse_position(inv.str("last_position"));
  if (!position) return position.status();
  sync::SyncInfoRequest request{inv.str("last_wal"), *position};
  auto doc = sync::make_sync_info(*inv.config, server, request);
  if (!doc) return doc.status();
  std::cout << doc->dump(4) << "\n";
  return Status::ok();
}

// Runs on the primary for a passive node: stdout carries the stream only.
Outcome run_sync_send(Invocation& inv, const ServerConfig& server) {
  const std::string kind = inv.str("kind");
  auto names = inv.has("names") ? inv.get<std::vector<std::string>>("names") : std::vector<std::string>{};
  if (kind == "wal") return sync::send_wal_stream(*inv.config, server.name, names, 1);
  if (kind == "backup" && names.size() == 1)
    return sync::send_backup_stream(*inv.config, server.name, names.front(), 1);
  return Status::usage("sync-send: expected \"wal NAME...\" or \"backup BACKUP_ID\"",
                       "sync-send is what a passive node's sync-wal and sync-backup run on the primary");
}

Outcome run_sync_wal(Invocation& inv, const ServerConfig& server) {
  if (!server.passive())
    return Status::usage("server \"" + server.name + "\" is not passive",
                         "set primary_ssh_command or primary_repository to make it one");
  auto lock = locks::SyncWalLock::acquire(locks::lock_manager(*inv.config), server.name);
  if (!lock) return lock.status();
  auto done = sync::sync_wal(*lock, *inv.config, server);
  if (!done) return done.status();
  info(inv, std::to_string(done->copied) + " WAL file(s) synchronised for server \"" + server.name + "\"");
  return Status::ok();
}

Outcome run_sync_backup(Invocation& inv, const ServerConfig& server) {
  const std::string id = inv.str("backup");
  if (!server.passive())
    return Status::usage("server \"" + server.name + "\" is not passive",
                         "set primary_ssh_command or primary_repository to make it one");
  if (!is_backup_id(id)) return Status::usage("\"" + id + "\" is not a backup id", "give the primary's backup id");
  auto lock = locks::SyncBackupLock::acquire(locks::lock_manager(*inv.config), server.name, id);
  if (!lock) return lock.status();
  auto status = sync::sync_backup(*lock, *inv.config, server, id);
  if (!status) return status.status();
  info(inv, "backup " + id + " of server \"" + server.name + "\" synchronised: " + *status);
  return Status::ok();
}

}  // namespace cellar::cli
