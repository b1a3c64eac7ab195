#include "incr/wal_decoder.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "incr/wal_record.h"
#include "pg/wal_names.h"

namespace cellar::incr {
namespace {

// xlog_internal.h (v15).
constexpr size_t kPageSize = 8192;
constexpr uint16_t kPageMagic = 0xD110;
constexpr size_t kShortHeader = 24;
constexpr size_t kLongHeader = 40;
constexpr uint16_t kFirstIsContrecord = 0x1;
constexpr uint16_t kLongHeaderFlag = 0x2;
constexpr uint16_t kFirstIsOverwriteContrecord = 0x8;  // 0x4 in v17, 0x8 in v15
constexpr uint16_t kAllFlags = 0xF;
// xlogrecord.h: XLogRecordMaxSize.
constexpr uint32_t kMaxRecordSize = 1020 * 1024 * 1024;

uint64_t align8(uint64_t v) { return (v + 7) & ~uint64_t{7}; }

std::string at_lsn(uint64_t lsn) { return pg::format_lsn(lsn); }

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04X", v);
  return buf;
}

}  // namespace

struct WalDecoder::Page {
  uint64_t lsn = 0;  // the page's address
  std::string_view bytes;
  uint16_t info = 0;
  uint32_t rem_len = 0;
  size_t header = 0;
};

Status WalDecoder::feed(const WalSegment& segment) {
  const uint64_t size = segment.segment_size ? segment.segment_size : segment.bytes.size();
  if (segment.offset == 0) {
    if (started_ && segment.segno != next_segno_)
      return Status::failed("WAL segment number " + std::to_string(segment.segno) + " does not follow segment " +
                            std::to_string(next_segno_ - 1));
    segment_size_ = size;
    if (segment_size_ == 0 || segment_size_ % kPageSize != 0)
      return Status::failed("WAL segment of " + std::to_string(segment_size_) + " bytes is not whole pages");
    if (!started_) skipping_ = true;
    started_ = true;
    next_segno_ = segment.segno + 1;
    next_offset_ = 0;
    switched_ = false;
  } else if (!started_ || segment.segno + 1 != next_segno_ || segment.offset != next_offset_ || size != segment_size_) {
    return Status::failed("a piece of WAL segment number " + std::to_string(segment.segno) + " at offset " +
                          std::to_string(segment.offset) + " does not follow what was decoded before");
  }
  if (segment.bytes.size() % kPageSize != 0 || segment.offset + segment.bytes.size() > segment_size_)
    return Status::failed("a piece of WAL segment number " + std::to_string(segment.segno) + " of " +
                          std::to_string(segment.bytes.size()) + " bytes is not whole pages of the segment");
  next_offset_ = segment.offset + segment.bytes.size();
  for (size_t off = 0; off < segment.bytes.size() && !done_ && !switched_; off += kPageSize) {
    Page page;
    page.lsn = segment.segno * segment_size_ + segment.offset + off;
    page.bytes = segment.bytes.substr(off, kPageSize);
    if (Status st = check_page(page, segment.timeline, segment.offset + off == 0); !st) return st;
    if (Status st = read_page(page); !st) return st;
  }
  return Status::ok();
}

Status WalDecoder::check_page(Page& page, uint32_t timeline, bool first) {
  auto bad = [&](const std::string& what) { return Status::failed("WAL page at " + at_lsn(page.lsn) + " " + what); };
  uint16_t magic = 0;
  uint32_t tli = 0;
  uint64_t addr = 0;
  std::memcpy(&magic, page.bytes.data(), 2);
  std::memcpy(&page.info, page.bytes.data() + 2, 2);
  std::memcpy(&tli, page.bytes.data() + 4, 4);
  std::memcpy(&addr, page.bytes.data() + 8, 8);
  std::memcpy(&page.rem_len, page.bytes.data() + 16, 4);
  if (magic != kPageMagic) return bad("has magic number " + hex(magic) + ", not that of PostgreSQL 15 (D110)");
  if ((page.info & ~kAllFlags) != 0) return bad("has invalid info bits " + hex(page.info));
  if (addr != page.lsn) return bad("holds the page of address " + at_lsn(addr));
  // A segment that starts a timeline begins with the old timeline's pages.
  if (tli > timeline || tli < last_tli_)
    return bad("is of timeline " + std::to_string(tli) + " in a segment of timeline " + std::to_string(timeline) +
               " after pages of timeline " + std::to_string(last_tli_));
  last_tli_ = tli;
  if (first != ((page.info & kLongHeaderFlag) != 0)) return bad("has a long header flag out of place");
  page.header = first ? kLongHeader : kShortHeader;
  if (first) return check_long_header(page);
  return Status::ok();
}

Status WalDecoder::check_long_header(const Page& page) const {
  uint32_t seg_size = 0;
  uint32_t block_size = 0;
  std::memcpy(&seg_size, page.bytes.data() + 32, 4);
  std::memcpy(&block_size, page.bytes.data() + 36, 4);
  if (seg_size != segment_size_ || block_size != kPageSize)
    return Status::failed("WAL segment at " + at_lsn(page.lsn) + " says it has " + std::to_string(seg_size) +
                          " bytes in pages of " + std::to_string(block_size) + ", not " +
                          std::to_string(segment_size_) + " in pages of 8192");
  return Status::ok();
}

Status WalDecoder::read_page(const Page& page) {
  size_t at = page.header;
  const bool cont = (page.info & kFirstIsContrecord) != 0;
  if ((page.info & kFirstIsOverwriteContrecord) != 0) {
    // The server abandoned the record in progress and wrote new ones here
    // (xlogreader.c restarts reading at this page).
    skipping_ = false;
    record_len_ = 0;
    record_.clear();
  } else if (skipping_) {
    if (cont) skip_continuation(page, at);
    skipping_ = skipping_ && cont;
    if (skipping_) return Status::ok();
  } else if (record_len_ != 0) {
    if (Status st = continue_record(page, at); !st || record_len_ != 0) return st;
  } else if (cont) {
    return Status::failed("WAL page at " + at_lsn(page.lsn) + " continues a record, but none is in progress");
  }
  while (at < kPageSize && !done_ && !switched_)
    if (Status st = start_record(page, at); !st || record_len_ != 0) return st;
  return Status::ok();
}

// The first page fed may open with the tail of a record begun before it.
void WalDecoder::skip_continuation(const Page& page, size_t& at) {
  if (page.rem_len > kPageSize - at) return;  // the whole page is that tail
  at = static_cast<size_t>(align8(at + page.rem_len));
  skipping_ = false;
}

Status WalDecoder::continue_record(const Page& page, size_t& at) {
  const uint32_t missing = record_len_ - static_cast<uint32_t>(record_.size());
  if ((page.info & kFirstIsContrecord) == 0)
    return Status::failed("WAL page at " + at_lsn(page.lsn) + " lacks the continuation of the record at " +
                          at_lsn(record_lsn_));
  if (page.rem_len != missing)
    return Status::failed("WAL page at " + at_lsn(page.lsn) + " continues the record at " + at_lsn(record_lsn_) +
                          " with " + std::to_string(page.rem_len) + " bytes, not " + std::to_string(missing));
  return append(page, at);
}

Status WalDecoder::start_record(const Page& page, size_t& at) {
  const uint64_t lsn = page.lsn + at;
  if (lsn >= stop_lsn_) {
    done_ = true;
    return Status::ok();
  }
  uint32_t tot_len = 0;
  std::memcpy(&tot_len, page.bytes.data() + at, 4);
  if (tot_len == 0) return Status::failed("WAL ends at " + at_lsn(lsn) + ", before " + at_lsn(stop_lsn_));
  if (tot_len < kRecordHeaderSize || tot_len > kMaxRecordSize)
    return Status::failed("WAL record at " + at_lsn(lsn) + " has an impossible length of " + std::to_string(tot_len) +
                          " bytes");
  record_lsn_ = lsn;
  record_len_ = tot_len;
  record_.clear();
  if (tot_len <= kPageSize - at) {  // all on this page (most records): decoded where it is
    const std::string_view record = page.bytes.substr(at, tot_len);
    at = static_cast<size_t>(align8(at + tot_len));
    return finish_record(record);
  }
  record_.reserve(tot_len);
  return append(page, at);
}

// Takes what the page holds of the record in progress; decodes it if complete.
Status WalDecoder::append(const Page& page, size_t& at) {
  const size_t take = std::min<size_t>(record_len_ - record_.size(), kPageSize - at);
  record_.append(page.bytes.substr(at, take));
  at += take;
  if (record_.size() < record_len_) return Status::ok();
  at = static_cast<size_t>(align8(at));
  return finish_record(record_);
}

Status WalDecoder::finish_record(std::string_view record) {
  uint64_t prev = 0;
  std::memcpy(&prev, record.data() + 8, 8);
  // Records left over from a recycled segment point elsewhere.
  if (prev_lsn_ != 0 && prev != prev_lsn_)
    return Status::failed("WAL record at " + at_lsn(record_lsn_) + " points back to " + at_lsn(prev) +
                          ", not to the previous record at " + at_lsn(prev_lsn_));
  auto kind = decode_record(record, record_lsn_, changes_);
  if (!kind) return kind.status();
  switched_ = *kind == RecordKind::xlog_switch;
  prev_lsn_ = record_lsn_;
  record_len_ = 0;
  record_.clear();
  return Status::ok();
}

}  // namespace cellar::incr
