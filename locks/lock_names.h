// Lock file names are an API (SPEC §5.2, §5.3): Barman's exact names, a make
// and a parse for every kind, side by side. Shapes owned here:
//   .cron.lock                                   global-cron
//   .config-update.lock                          config-update
//   .<server>-backup.lock                        backup
//   .<server>-cron.lock                          cron
//   .<server>-xlogdb.lock                        xlogdb
//   .<server>-archive-wal.lock                   archive-wal
//   .<server>-receive-wal.lock                   receive-wal
//   .<server>-sync-wal.lock                      sync-wal
//   .<server>-<backup_id>.lock                   backup-id
//   .<server>-<backup_id>-sync-backup.lock       sync-backup
// Derived from those, one per resource (the lock file name without the
// leading "." and the ".lock"):
//   <resource>                                   etcd key under etcd_prefix
//   .<resource>.hold                             a client hold (file backend)
//   .<resource>.token                            fencing counter (file backend)
// Every pattern is anchored at both ends and accepts only a valid server name
// (config/names.h) and backup id, which makes the grammar unambiguous: the one
// overlap, "-backup.lock" vs "-<id>-sync-backup.lock", would need a server
// named "...-<id>-sync", and validate_server_name rejects those names.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace cellar::locks {

enum class LockKind {
  global_cron,
  config_update,
  backup,
  cron,
  xlogdb,
  archive_wal,
  receive_wal,
  sync_wal,
  backup_id,
  sync_backup,
};

struct LockName {
  LockKind kind;
  std::string server;     // "" for global kinds
  std::string backup_id;  // only for backup-id and sync-backup
  bool operator==(const LockName&) const = default;
};

// Every kind, in SPEC §5.2 order.
const std::vector<LockKind>& all_kinds();
// "global-cron", "backup-id", ... (the KIND word of `cellar lock`).
const char* kind_name(LockKind kind);
std::optional<LockKind> parse_kind(const std::string& word);
bool is_global(LockKind kind);
bool needs_backup_id(LockKind kind);
// Only xlogdb and sync-wal wait by default (bounded, see LockFile).
bool waits_by_default(LockKind kind);
// The kind's file-name pattern, anchored, with Python-style named groups
// (?P<server>...) and (?P<backup_id>...): the grammar the factories implement,
// for docs and tests. The factories also reject the reserved and ambiguous
// server names that validate_server_name refuses.
const char* lock_file_pattern(LockKind kind);

// make: the file name (no directory). Precondition: valid server and backup id.
std::string make_lock_file_name(const LockName& name);
// parse: the lock a file name (basename) denotes, or nothing.
std::optional<LockName> parse_lock_file_name(const std::string& file_name);
// The per-kind factory of SPEC §5.3: matches only its own kind.
std::optional<LockName> parse_lock_file_name_as(LockKind kind, const std::string& file_name);

// The resource name: "cron", "main-backup", "main-20261201T020000", ...
// Precondition as make_lock_file_name.
std::string make_resource_name(const LockName& name);
std::optional<LockName> parse_resource_name(const std::string& resource);
// ".main-backup.hold" and ".main-backup.token" (file backend).
std::string make_hold_file_name(const LockName& name);
std::string make_token_file_name(const LockName& name);
std::optional<LockName> parse_hold_file_name(const std::string& file_name);

// Validates the words of `cellar lock KIND SERVER [BACKUP_ID]`.
Result<LockName> make_lock_name(const std::string& kind, const std::string& server, const std::string& backup_id);

}  // namespace cellar::locks
