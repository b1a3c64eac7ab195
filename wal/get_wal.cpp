#include "wal/get_wal.h"

#include <unistd.h>

#include "common/codec.h"
#include "common/fs.h"
#include "common/storage_filter.h"
#include "pg/wal_names.h"
#include "wal/wal_store.h"

namespace cellar::wal {
namespace {

// The smallest segment size accepts every segment name any size allows; only
// the shape matters here (the name never reaches a path unless it is hex).
constexpr uint64_t kSmallestSegmentSize = 1u << 20;

// restore_command's "> %p": PostgreSQL checks the exit code and the size.
Status copy_to_stdout(storage::Reader& in) {
  auto copied =
      storage::drain(in, [](std::string_view piece) { return write_all(STDOUT_FILENO, piece, "standard output"); });
  return copied ? Status::ok() : copied.status();
}

}  // namespace

Status get_wal(const GetWalRequest& r) {
  if (!pg::parse_wal_file_name(r.name, kSmallestSegmentSize))
    return Status::usage("invalid WAL file name \"" + r.name + "\"",
                         "give a segment name (24 hex digits, e.g. 000000010000000000000003) or a TTTTTTTT.history "
                         "name");
  auto stored = find_archived(wals_dir(r.server_dir), r.name);
  if (!stored)
    return Status::failed("WAL file \"" + r.name + "\" is not in the archive of server '" + r.server + "'",
                          "it may not be archived yet: see 'cellar status " + r.server +
                              "' and run 'cellar archive-wal " + r.server + "'");
  auto in = storage::open_decompressed(storage::root(), stored->path, stored->codec);
  if (!in) return in.status();
  if (r.output_dir.empty()) return copy_to_stdout(**in);
  if (Status st = make_dirs(r.output_dir, 0700); !st) return st;
  auto out = storage::root().open_write(join_path(r.output_dir, r.name));
  if (!out) return out.status();
  if (auto copied = storage::copy(**in, **out); !copied) return copied.status();
  return (*out)->commit();
}

}  // namespace cellar::wal
