// Binary queries spread over several connections of one server, results in
// order: what an incremental backup reads with pg_read_binary_file() goes
// through one backend per job instead of one for all, so that the server
// reads and sends in parallel (docs/incremental.md).
//
// The queries go in windows: a window's queries are dealt round robin to the
// connections, each connection pipelines its share on a thread of its own,
// and `take` gets the window's results in query order on the caller's
// thread while the next window is being fetched. At most two windows of
// results are held: with 1 MiB results, 2 × connections × depth × 2 MiB.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "pg/connection.h"

namespace cellar::pg {

class ParallelReads {
 public:
  // `connections` are used, not owned; the first is the caller's own (may be
  // in backup mode). None of them may be used elsewhere during run().
  explicit ParallelReads(std::vector<Connection*> connections) : connections_(std::move(connections)) {}

  // As Connection::pipeline_binary: `take` gets each query's index and first
  // value in order; the first failure (of a query or of `take`) stops it,
  // and every connection is usable again when it returns.
  Status run(const std::vector<std::string>& queries, size_t depth,
             const std::function<Status(size_t, std::optional<std::string>)>& take);

  size_t size() const { return connections_.size(); }

 private:
  std::vector<Connection*> connections_;
};

}  // namespace cellar::pg
