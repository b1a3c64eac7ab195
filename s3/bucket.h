// Requests on a bucket itself rather than on the files of a Storage: making
// one (the test harness, a first set-up) and listing multipart uploads left
// incomplete (a crashed writer never aborts its own; tests check that an
// abandoned writer left none).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "s3/s3_storage.h"

namespace cellar::s3 {

// PUT bucket `options.bucket` (in options.region). An existing bucket of
// ours is fine.
Status create_bucket(const Options& options);

// The incomplete multipart uploads under options.prefix: (key, upload id).
Result<std::vector<std::pair<std::string, std::string>>> pending_uploads(const Options& options);

}  // namespace cellar::s3
