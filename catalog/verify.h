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

}  // namespace cellar::catalog
