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

constexpr size_t kPiece = 1 << 20;  // bytes of a segment decoded at a time; divides every segment size

// As many bytes as `in` has, up to `buf`'s size.
Result<size_t> fill(storage::Reader& in, std::string& buf) {
  size_t got = 0;
  while (got < buf.size()) {
    auto n = in.read(buf.data() + got, buf.size() - got);
    if (!n) return n.status();
    if (*n == 0) break;
    got += *n;
  }
  return got;
}

// Feeds segment `segno` to the decoder in pieces, up to where it needs no
// more: the segment's end, an XLOG_SWITCH (the zeroes after it are not
// read) or the range's end.
Status feed_segment(const ChangeRange& range, uint64_t segno, WalDecoder& decoder, std::string& buf) {
  const std::string name = pg::make_segment_name(range.timeline, segno, range.segment_size);
  if (range.await)
    if (Status st = range.await(name); !st) return st;
  auto stored = wal::find_archived(wal::wals_dir(range.server_dir), name);
  if (!stored) return Status::failed("WAL segment " + name + " is not archived");
  auto in = storage::open_decompressed(storage::root(), stored->path, stored->codec);
  if (!in) return in.status();
  buf.resize(std::min<uint64_t>(kPiece, range.segment_size));
  uint64_t at = 0;
  auto wrong_size = [&](uint64_t holds) {
    return Status::failed("WAL segment " + name + " holds " + std::to_string(holds) + " bytes, not " +
                          std::to_string(range.segment_size));
  };
  // (switched() still tells of the segment before until this one is fed.)
  while (at < range.segment_size && !decoder.done() && (at == 0 || !decoder.switched())) {
    auto got = fill(**in, buf);
    if (!got) return got.status();
    if (*got < buf.size()) return wrong_size(at + *got);
    if (Status st = decoder.feed({segno, range.timeline, buf, at, range.segment_size}); !st) return st;
    at += *got;
  }
  if (at == range.segment_size) {  // read to its end: nothing may follow
    char extra = 0;
    auto more = (*in)->read(&extra, 1);
    if (!more) return more.status();
    if (*more != 0)
      return Status::failed("WAL segment " + name + " holds more than " + std::to_string(range.segment_size) +
                            " bytes");
  }
  return Status::ok();
}

}  // namespace

Result<ChangeMap> build_change_map(const ChangeRange& range) {
  if (range.segment_size == 0 || range.to_lsn < range.from_lsn)
    return Status::failed("the WAL range " + pg::format_lsn(range.from_lsn) + " to " + pg::format_lsn(range.to_lsn) +
                          " is not valid");
  WalDecoder decoder(range.to_lsn);
  std::string buf;
  for (uint64_t segno = pg::segno_of(range.from_lsn, range.segment_size); !decoder.done(); ++segno)
    if (Status st = feed_segment(range, segno, decoder, buf); !st) return st;
  return decoder.take();
}

}  // namespace cellar::incr
