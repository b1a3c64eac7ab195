// What the pieces of one S3 storage share: the client, the pool of
// background uploads and the register of deferred commits. Writers and
// readers hold the Core by shared_ptr, so it outlives every one of them;
// pool tasks only borrow it (the pool is destroyed first and waits for them).
#pragma once

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "common/status.h"
#include "s3/client.h"
#include "s3/task_pool.h"

namespace cellar::s3 {

// S3 requires at least 5 MiB for every part but the last; at most 10000 parts.
constexpr uint64_t kMinPartSize = 5ull << 20;
constexpr uint64_t kMaxPartSize = 5ull << 30;
constexpr unsigned kMaxParts = 10000;

// The part size the writers use: the option within S3's bounds.
inline uint64_t part_size_of(const Options& o) { return std::clamp(o.part_size, kMinPartSize, kMaxPartSize); }

// Commits made with sync_dir = false that may still be uploading.
class Deferred {
 public:
  void begin();
  void end(Status status);
  // Waits until none is pending; the first failure since the last wait.
  Status wait();

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  unsigned pending_ = 0;
  Status failure_;
};

// The bytes uploads in flight may hold together: kPartsInFlight parts (the
// writers' own filling buffers come on top). Small objects are far below a
// part, so upload_concurrency of them still go up side by side.
constexpr unsigned kPartsInFlight = 3;

struct Core {
  explicit Core(Options options)
      : client(std::move(options)),
        uploads(client.options().upload_concurrency, kPartsInFlight * part_size_of(client.options())) {}
  Client client;
  Deferred deferred;
  TaskPool uploads;  // last: destroyed first, waiting for tasks that use the rest
};

}  // namespace cellar::s3
