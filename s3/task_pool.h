// A bounded pool of threads for the S3 driver's background transfers. At
// most `size` tasks are queued or running at any time, and together they
// hold at most `byte_limit` bytes (each task says how many it owns: its
// part's or small object's buffer): submit() blocks the caller until both
// allow the task, which is what bounds the memory held by uploads in flight
// while many small objects still go up side by side. A task larger than
// the limit runs alone.
//
// Threads start on demand, up to `size`, and live until the pool is
// destroyed; the destructor waits for every submitted task. A task must not
// submit to its own pool (it could wait for itself) nor destroy it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <utility>
#include <vector>

namespace cellar::s3 {

class TaskPool {
 public:
  TaskPool(unsigned size, uint64_t byte_limit);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // Runs `task`, which owns `bytes` bytes until it ends, on a pool thread;
  // blocks while `size` tasks are queued or running, or their bytes and
  // these would pass the limit.
  void submit(std::function<void()> task, uint64_t bytes = 0);

 private:
  void run();

  const unsigned size_;
  const uint64_t byte_limit_;
  std::mutex mutex_;
  std::condition_variable work_;   // a task was queued, or the pool is stopping
  std::condition_variable space_;  // a task finished
  std::queue<std::pair<std::function<void()>, uint64_t>> queue_;
  unsigned busy_ = 0;   // queued or running
  uint64_t bytes_ = 0;  // what they own
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace cellar::s3
