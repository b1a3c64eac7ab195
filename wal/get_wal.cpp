#include "wal/get_wal.h"

#include <unistd.h>

#include <future>
#include <vector>

#include "common/codec.h"
#include "common/fs.h"
#include "common/storage_filter.h"
#include "config/layout.h"
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

Status not_archived(const GetWalRequest& r, const std::string& name) {
  return Status::failed(
      "WAL file \"" + name + "\" is not in the archive of server '" + r.server + "'",
      "it may not be archived yet: see 'cellar status " + r.server + "' and run 'cellar archive-wal " + r.server + "'");
}

// `in` to stdout, or durably to <dir>/<name>.
Status deliver(storage::Reader& in, const std::string& dir, const std::string& name) {
  if (dir.empty()) return copy_to_stdout(in);
  if (Status st = make_dirs(dir, 0700); !st) return st;
  auto out = storage::root().open_write(join_path(dir, name));
  if (!out) return out.status();
  if (auto copied = storage::copy(in, **out); !copied) return copied.status();
  return (*out)->commit();
}

// Archived `name`, decompressed, to stdout or into `dir`.
Status fetch(const GetWalRequest& r, const std::string& name, const std::string& dir) {
  auto stored = find_archived(wals_dir(r.server_dir), name);
  if (!stored) return not_archived(r, name);
  auto in = storage::open_decompressed(storage::root(), stored->path, stored->codec);
  if (!in) return in.status();
  return deliver(**in, dir, name);
}

// The next `count` segment names after `name` on its timeline.
std::vector<std::string> following_segments(const std::string& name, int count) {
  std::vector<std::string> out;
  auto w = pg::parse_wal_file_name(name, pg::kDefaultSegmentSize);
  if (!w || w->kind != pg::WalFileKind::segment) return out;
  for (int k = 1; k <= count; ++k)
    out.push_back(pg::make_segment_name(w->tli, w->segno + static_cast<uint64_t>(k), pg::kDefaultSegmentSize));
  return out;
}

// Serves `name` from the prefetch directory if it is there (then removes it).
// Returns whether it did.
Result<bool> serve_prefetched(const GetWalRequest& r, const std::string& prefetch) {
  const std::string path = join_path(prefetch, r.name);
  if (!path_exists(path)) return false;
  auto in = storage::root().open_read(path);
  if (!in) return in.status();
  if (Status st = deliver(**in, r.output_dir, r.name); !st) return st;
  (void)storage::root().remove(path);
  return true;
}

// Removes prefetched files recovery has moved past, and leftover temps.
void drop_older(const std::string& prefetch, const std::string& name) {
  auto names = list_dir(prefetch);
  if (!names) return;
  for (const auto& n : *names)
    if (n < name || !pg::parse_wal_file_name(n, kSmallestSegmentSize)) (void)::unlink(join_path(prefetch, n).c_str());
}

// Fetches the segments after r.name that are not prefetched yet, in parallel.
void prefetch_following(const GetWalRequest& r, const std::string& prefetch) {
  std::vector<std::future<Status>> running;
  for (const std::string& next : following_segments(r.name, r.parallel - 1)) {
    if (path_exists(join_path(prefetch, next))) continue;
    running.push_back(std::async(std::launch::async, [&r, &prefetch, next] { return fetch(r, next, prefetch); }));
  }
  for (auto& f : running) (void)f.get();  // not archived yet: asked for directly later
}

}  // namespace

Status get_wal(const GetWalRequest& r) {
  if (!pg::parse_wal_file_name(r.name, kSmallestSegmentSize))
    return Status::usage("invalid WAL file name \"" + r.name + "\"",
                         "give a segment name (24 hex digits, e.g. 000000010000000000000003) or a TTTTTTTT.history "
                         "name");
  if (r.parallel <= 1) return fetch(r, r.name, r.output_dir);
  const std::string prefetch = layout::get_wal_prefetch_dir(r.server_dir);
  if (Status st = make_dirs(prefetch, 0700); !st) return st;
  drop_older(prefetch, r.name);
  auto served = serve_prefetched(r, prefetch);
  if (!served) return served.status();
  if (*served) {
    prefetch_following(r, prefetch);
    return Status::ok();
  }
  // This one and the next ones at once: one round trip's wait for all.
  auto own = std::async(std::launch::async, [&r] { return fetch(r, r.name, r.output_dir); });
  prefetch_following(r, prefetch);
  return own.get();
}

}  // namespace cellar::wal
