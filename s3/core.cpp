#include "s3/core.h"

namespace cellar::s3 {

void Deferred::begin() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++pending_;
}

void Deferred::end(Status status) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!status && failure_) failure_ = std::move(status);
  --pending_;
  done_.notify_all();
}

Status Deferred::wait() {
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return pending_ == 0; });
  return std::exchange(failure_, Status::ok());
}

}  // namespace cellar::s3
