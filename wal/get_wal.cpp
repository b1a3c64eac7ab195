#include "wal/get_wal.h"

#include <unistd.h>

#include "common/codec.h"
#include "common/fs.h"
#include "pg/wal_names.h"
#include "wal/wal_store.h"

namespace cellar::wal {
namespace {

// The smallest segment size accepts every segment name any size allows; only
// the shape matters here (the name never reaches a path unless it is hex).
constexpr uint64_t kSmallestSegmentSize = 1u << 20;

}  // namespace

Status get_wal(const GetWalRequest& r) {
  if (!pg::parse_wal_file_name(r.name, kSmallestSegmentSize))
    return Status::usage("invalid WAL file name \"" + r.name + "\"",
                         "give a segment name (24 hex digits, e.g. 000000010000000000000003) or a TTTTTTTT.history "
                         "name");
  auto stored = find_archived(wals_dir(r.server_dir), r.name);
  if (!stored)
    return Status::failed("WAL file \"" + r.name + "\" is not in the archive of server '" + r.server + "'",
                          "it may not be archived yet: see 'cellar status " + r.server + "' and run 'cellar archive-wal " +
                              r.server + "'");
  if (r.output_dir.empty()) {
    auto copied = codec::decompress_file_to_fd(stored->path, stored->codec, STDOUT_FILENO, "standard output");
    return copied ? Status::ok() : copied.status();
  }
  if (Status st = make_dirs(r.output_dir, 0700); !st) return st;
  auto copied = codec::decompress_file(stored->path, join_path(r.output_dir, r.name), stored->codec);
  return copied ? Status::ok() : copied.status();
}

}  // namespace cellar::wal
