#include "incr/change_map.h"

#include "common/storage.h"
#include "common/storage_filter.h"
#include "incr/wal_decoder.h"
#include "pg/wal_names.h"
#include "wal/wal_store.h"

namespace cellar::incr {

void ChangeMap::limit(const RelFork& fork, uint32_t block) {
  auto [it, added] = limits.emplace(fork, block);
  if (!added && block < it->second) it->second = block;
}

namespace {

// The whole decompressed segment `segno`, or why not.
Result<std::string> load_segment(const ChangeRange& range, uint64_t segno) {
  const std::string name = pg::make_segment_name(range.timeline, segno, range.segment_size);
  auto stored = wal::find_archived(wal::wals_dir(range.server_dir), name);
  if (!stored) return Status::failed("WAL segment " + name + " is not archived");
  auto in = storage::open_decompressed(storage::root(), stored->path, stored->codec);
  if (!in) return in.status();
  std::string bytes;
  bytes.reserve(range.segment_size);
  auto read = storage::drain(**in, [&bytes](std::string_view piece) {
    bytes.append(piece);
    return Status::ok();
  });
  if (!read) return read.status();
  if (bytes.size() != range.segment_size)
    return Status::failed("WAL segment " + name + " holds " + std::to_string(bytes.size()) + " bytes, not " +
                          std::to_string(range.segment_size));
  return bytes;
}

}  // namespace

Result<ChangeMap> build_change_map(const ChangeRange& range) {
  if (range.segment_size == 0 || range.to_lsn < range.from_lsn)
    return Status::failed("the WAL range " + pg::format_lsn(range.from_lsn) + " to " + pg::format_lsn(range.to_lsn) +
                          " is not valid");
  WalDecoder decoder(range.to_lsn);
  for (uint64_t segno = pg::segno_of(range.from_lsn, range.segment_size); !decoder.done(); ++segno) {
    auto bytes = load_segment(range, segno);
    if (!bytes) return bytes.status();
    if (Status st = decoder.feed({segno, range.timeline, *bytes}); !st) return st;
  }
  return decoder.take();
}

}  // namespace cellar::incr
