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
    TaskPool pool(3, 1 << 20);
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

TEST_CASE("the upload pool keeps the bytes its tasks own under the limit, and lets a larger task run alone", "[s3]") {
  std::mutex m;
  uint64_t held = 0, most_held = 0;
  int running = 0, most_running = 0, done = 0;
  bool large_alone = false;
  auto task = [&](uint64_t bytes) {
    return [&, bytes] {
      {
        std::lock_guard<std::mutex> lock(m);
        held += bytes;
        if (bytes <= 300) most_held = std::max(most_held, held);
        if (bytes > 300) large_alone = held == bytes;
        ++running;
        if (bytes == 1) most_running = std::max(most_running, running);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
      std::lock_guard<std::mutex> lock(m);
      held -= bytes;
      --running;
      ++done;
    };
  };
  {
    TaskPool pool(8, 300);
    for (int i = 0; i < 30; ++i) pool.submit(task(100), 100);  // parts: 3 at a time, not 8
    for (int i = 0; i < 40; ++i) pool.submit(task(1), 1);      // small objects: up to 8
    pool.submit(task(1000), 1000);                             // over the limit: alone
  }
  CHECK(done == 71);
  CHECK(most_held <= 300);
  CHECK(most_held >= 200);
  CHECK(most_running >= 4);  // the small ones were not held to three
  CHECK(large_alone);
}
