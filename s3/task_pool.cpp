#include "s3/task_pool.h"

#include <algorithm>

namespace cellar::s3 {

TaskPool::TaskPool(unsigned size, uint64_t byte_limit) : size_(std::max(1u, size)), byte_limit_(byte_limit) {}

TaskPool::~TaskPool() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    space_.wait(lock, [&] { return busy_ == 0; });
    stopping_ = true;
  }
  work_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void TaskPool::submit(std::function<void()> task, uint64_t bytes) {
  std::unique_lock<std::mutex> lock(mutex_);
  space_.wait(lock, [&] { return busy_ < size_ && (bytes_ == 0 || bytes_ + bytes <= byte_limit_); });
  ++busy_;
  bytes_ += bytes;
  queue_.push({std::move(task), bytes});
  // As many threads as tasks queued or running, so none waits for a thread
  // (a task may wait for another one, as a commit waits for its parts).
  if (threads_.size() < busy_) threads_.emplace_back([this] { run(); });
  lock.unlock();
  work_.notify_one();
}

void TaskPool::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping
    auto [task, bytes] = std::move(queue_.front());
    queue_.pop();
    lock.unlock();
    task();
    task = nullptr;  // what it captured goes before the slot is free
    lock.lock();
    --busy_;
    bytes_ -= bytes;
    space_.notify_all();
  }
}

}  // namespace cellar::s3
