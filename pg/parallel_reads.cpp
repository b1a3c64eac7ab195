#include "pg/parallel_reads.h"

#include <algorithm>
#include <future>
#include <memory>

namespace cellar::pg {
namespace {

// One window of queries [from, to), being fetched.
struct Window {
  size_t from = 0, to = 0;
  std::vector<std::optional<std::string>> got;
  std::vector<std::future<Status>> parts;  // one per connection with queries

  // Waits for every connection's share; the first error.
  Status wait() {
    Status first;
    for (auto& p : parts) {
      Status st = p.get();
      if (!st && first.is_ok()) first = st;
    }
    parts.clear();
    return first;
  }
};

std::unique_ptr<Window> launch(const std::vector<Connection*>& conns, const std::vector<std::string>& queries,
                               size_t from, size_t to, size_t depth) {
  auto w = std::make_unique<Window>();
  w->from = from;
  w->to = to;
  w->got.resize(to - from);
  Window* win = w.get();
  for (size_t k = 0; k < conns.size() && from + k < to; ++k) {
    std::vector<size_t> mine;
    for (size_t i = from + k; i < to; i += conns.size()) mine.push_back(i);
    win->parts.push_back(std::async(std::launch::async, [&queries, conn = conns[k], mine, depth, win] {
      std::vector<std::string> share;
      for (size_t i : mine) share.push_back(queries[i]);
      return conn->pipeline_binary(share, depth, [&](size_t j, std::optional<std::string> v) {
        win->got[mine[j] - win->from] = std::move(v);
        return Status::ok();
      });
    }));
  }
  return w;
}

}  // namespace

Status ParallelReads::run(const std::vector<std::string>& queries, size_t depth,
                          const std::function<Status(size_t, std::optional<std::string>)>& take) {
  if (connections_.size() <= 1 || queries.size() <= 1) return connections_.at(0)->pipeline_binary(queries, depth, take);
  const size_t window = connections_.size() * std::max<size_t>(depth, 1) * 2;
  auto cur = launch(connections_, queries, 0, std::min(window, queries.size()), depth);
  while (cur) {
    Status st = cur->wait();
    std::unique_ptr<Window> next;
    if (st && cur->to < queries.size())
      next = launch(connections_, queries, cur->to, std::min(cur->to + window, queries.size()), depth);
    for (size_t i = cur->from; st && i < cur->to; ++i) st = take(i, std::move(cur->got[i - cur->from]));
    if (!st) {
      if (next) (void)next->wait();
      return st;
    }
    cur = std::move(next);
  }
  return Status::ok();
}

}  // namespace cellar::pg
