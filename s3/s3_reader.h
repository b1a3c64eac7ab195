// The S3 Reader (see s3/s3_storage.h): ranged GETs of read_chunk bytes,
// read_ahead of them in flight in the background, each body checked
// against the range asked for.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/storage.h"
#include "s3/core.h"

namespace cellar::s3 {

// Reads object `key` from `offset`, at most `length` bytes. The first chunk
// is fetched before this returns, so a missing object fails here (HTTP 404
// NoSuchKey, naming s3://bucket/key). An offset at or past the end reads
// nothing, as a file does.
Result<std::unique_ptr<storage::Reader>> open_reader(std::shared_ptr<Core> core, const std::string& key,
                                                     uint64_t offset, uint64_t length);

}  // namespace cellar::s3
