// verify-backup (SPEC §1, pg-protocol.md §A.7): the backup's manifest checksum
// (SHA-256), then every file the manifest lists against its stored copy
// (decompressed size and CRC-32C), then files on disk the manifest does not
// know. Problems are collected, not fatal one by one.
#pragma once

#include <string>
#include <vector>

#include "catalog/catalogue.h"
#include "locks/typed_lock.h"

namespace cellar::catalog {

struct VerifyReport {
  int files_checked = 0;
  std::vector<std::string> problems;  // one line each, naming the file
  bool ok() const { return problems.empty(); }
};

// Requires the backup's id lock. Fails only when the backup cannot be read
// at all (no manifest, unparseable); mismatches are problems in the report.
Result<VerifyReport> verify_backup(const locks::BackupIdLock& lock, const BackupEntry& backup);

// verify_backup of an incremental and of every backup its chain builds on
// (their problems prefixed with their id), and the chain itself: each
// parent is there and DONE, and every INCREMENTAL.<name> has <name> or
// another INCREMENTAL.<name> in the parent's manifest. `chain_length`
// counts the backups checked. For a full backup the same as verify_backup.
struct ChainReport {
  VerifyReport report;
  int chain_length = 1;
};
Result<ChainReport> verify_chain(const locks::BackupIdLock& lock, const Catalogue& catalogue,
                                 const BackupEntry& backup);

}  // namespace cellar::catalog
