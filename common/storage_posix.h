// The posix storage driver: a Storage (common/storage.h) on a directory of the
// local disk. Paths are relative to the root; a root of "/" takes absolute
// paths as they are. A write goes to "<final>.cellar-tmp.<pid>.<n>" in the
// final directory (created 0600 whatever the umask), and commit() is the one
// durable sequence of the tree: fsync the file, close it, rename it over the
// final name, fsync the directory. Any failure removes the temp. An fsync that
// failed is never retried on the same file (PostgreSQL's fsyncgate lesson:
// the kernel may have dropped the dirty pages, so a second fsync "succeeds"
// on data that is gone); the write fails and must be redone from the source.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/storage.h"

namespace cellar::storage {

std::unique_ptr<Storage> make_posix(std::string root);

// The commit step for a local file that was written in place (the spool's
// .partial WAL segment): fsync `fd` (when valid), rename `from` to `to`, fsync
// the directory of `to` and, when it differs, the one of `from`. The same
// sequence PosixWriter::commit runs; there is no other.
Status durable_rename(int fd, const std::string& from, const std::string& to);

// True for the names of the posix driver's temp files (never a final name),
// so that listings, archive-wal and verify can leave them alone, and a clean-up
// can recognise what a crash left behind.
bool is_temp_name(std::string_view name);

}  // namespace cellar::storage
