// The S3 Writer (see s3/s3_storage.h for the behaviour): one PUT for an
// object within part_size, a multipart upload beyond, parts in the
// background through the Core's upload pool.
#pragma once

#include <memory>
#include <string>

#include "common/storage.h"
#include "s3/core.h"

namespace cellar::s3 {

// A writer of `path` (the storage path, for path()) to object `key`.
// `defer`: commit() queues the final upload and returns; Core::deferred
// receives its outcome.
std::unique_ptr<storage::Writer> make_writer(std::shared_ptr<Core> core, std::string path, std::string key, bool defer);

}  // namespace cellar::s3
