#include "s3/task_pool.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <thread>

using namespace cellar::s3;

TEST_CASE("the upload pool never runs more tasks than its size, and runs them all", "[s3]") {
  std::mutex m;
  int running = 0, most = 0, done = 0;
  {
    TaskPool pool(3);
    for (int i = 0; i < 40; ++i)
      pool.submit([&] {
        {
          std::lock_guard<std::mutex> lock(m);
          most = std::max(most, ++running);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        std::lock_guard<std::mutex> lock(m);
        --running;
        ++done;
      });
  }
  CHECK(done == 40);
  CHECK(most <= 3);
  CHECK(most >= 2);
}
