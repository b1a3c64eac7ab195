// rebuild-xlogdb (Barman's command): xlog.db made again from what wals/
// holds, for when it was lost, damaged, or disagrees with the repository
// (an object store written by a host that died between a segment's upload
// and its xlog.db line). The listing is the truth; xlog.db is its index.
#pragma once

#include <cstddef>
#include <string>

#include "common/status.h"
#include "locks/typed_lock.h"

namespace cellar::wal {

struct RebuildReport {
  size_t entries = 0;  // lines in the new xlog.db
  size_t added = 0;    // files that the old xlog.db did not list
  size_t dropped = 0;  // lines of the old xlog.db whose file is gone
};

// Lists wals/ (history files and every hash directory), keeps the files whose
// names parse as archived WAL (config/layout.h), and replaces xlog.db with
// one line per file in WAL order, durably. Temp files and strays are skipped.
Result<RebuildReport> rebuild_xlogdb(const locks::XlogdbLock& lock, const std::string& server_dir);

}  // namespace cellar::wal
