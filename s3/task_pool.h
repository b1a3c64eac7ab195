// A bounded pool of threads for the S3 driver's background transfers. At
// most `size` tasks are queued or running at any time: submit() blocks the
// caller while that many are, which is what bounds the memory held by
// uploads in flight (each task owns its part's bytes).
//
// Threads start on demand, up to `size`, and live until the pool is
// destroyed; the destructor waits for every submitted task. A task must not
// submit to its own pool (it could wait for itself) nor destroy it.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace cellar::s3 {

class TaskPool {
 public:
  explicit TaskPool(unsigned size);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // Runs `task` on a pool thread; blocks while `size` tasks are queued or running.
  void submit(std::function<void()> task);

 private:
  void run();

  const unsigned size_;
  std::mutex mutex_;
  std::condition_variable work_;   // a task was queued, or the pool is stopping
  std::condition_variable space_;  // a task finished
  std::queue<std::function<void()>> queue_;
  unsigned busy_ = 0;  // queued or running
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace cellar::s3
