// How list-backups and show-backup present a catalogue: each backup with its
// retention status and the WAL archived since it (up to the next backup),
// as Barman-like text lines or JSON objects (every backup.info key plus
// retention_status, wal_count and wal_size).
#pragma once

#include <string>
#include <vector>

#include "catalog/catalogue.h"
#include "common/json.h"
#include "config/config.h"

namespace cellar::catalog {

struct BackupView {
  const BackupEntry* entry = nullptr;
  std::string retention;  // VALID, OBSOLETE, KEEP:FULL, ..., or "-"
  int wal_count = 0;      // WAL files archived from begin_wal up to the next backup
  uint64_t wal_size = 0;  // their stored bytes
};

// Newest first. Fails if retention_policy is invalid or xlog.db is unreadable.
Result<std::vector<BackupView>> describe_backups(const Catalogue& catalogue, const ServerConfig& server);

// "main 20261122T100839 'nightly' - Sun Nov 22 10:08:40 2026 - Size: 38.1 MiB - WAL Size: 0 B - VALID"
std::string list_line(const std::string& server, const BackupView& view);
Json backup_json(const BackupView& view);
std::string show_text(const BackupView& view);

}  // namespace cellar::catalog
