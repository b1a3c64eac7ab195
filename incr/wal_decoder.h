// A decoder of PostgreSQL 15 WAL for block-incremental backups. It is fed
// whole segments in order and walks their records the way xlogreader.c does:
// page headers checked (magic, address, timeline), records reassembled across
// pages and segments, each record's CRC-32C checked, then its fragment
// headers parsed for block references. Into a ChangeMap (incr/change_map.h)
// it puts every block reference (all forks) and the changes WAL makes without
// block references (SMGR create/truncate, relations dropped at commit or
// abort, DBASE create/drop). Like pg_rewind it never silently ignores a
// record flagged XLR_SPECIAL_REL_UPDATE it does not understand.
//
// What it does not own: finding or decompressing segments (build_change_map),
// timeline history, or decoding page images and rmgr payloads beyond the
// few records above.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"
#include "incr/change_map.h"

namespace cellar::incr {

// A WAL segment as the server wrote it (decompressed), whole or a piece of
// whole pages of it.
struct WalSegment {
  uint64_t segno = 0;
  uint32_t timeline = 0;      // the timeline of the segment's name
  std::string_view bytes;     // the segment, or the piece of it at `offset`
  uint64_t offset = 0;        // where `bytes` starts in the segment
  uint64_t segment_size = 0;  // 0: `bytes` is the whole segment
};

class WalDecoder {
 public:
  // Decodes records until one starts at or after `stop_lsn`.
  explicit WalDecoder(uint64_t stop_lsn) : stop_lsn_(stop_lsn) {}

  // Decodes the records of `segment`. The first segment fed may be any one
  // (a record continued from before it is skipped); each later one must be
  // the next segment number. Pieces of a segment come in order, the first at
  // offset 0, each where the one before ended. Fails, naming the LSN, on a page header that is
  // not this segment's, a bad CRC or impossible record before stop_lsn, an
  // unknown record flagged XLR_SPECIAL_REL_UPDATE, or wal_level set below
  // replica. After a failure the decoder must not be fed again.
  Status feed(const WalSegment& segment);

  // True once a record starting at or after stop_lsn was reached: no more
  // segments are needed.
  bool done() const { return done_; }
  // True after an XLOG_SWITCH record: the rest of the segment is not needed.
  bool switched() const { return switched_; }
  const ChangeMap& changes() const { return changes_; }
  ChangeMap take() { return std::move(changes_); }

 private:
  struct Page;
  Status check_page(Page& page, uint32_t timeline, bool first);
  Status check_long_header(const Page& page) const;
  Status read_page(const Page& page);
  void skip_continuation(const Page& page, size_t& at);
  Status continue_record(const Page& page, size_t& at);
  Status start_record(const Page& page, size_t& at);
  Status append(const Page& page, size_t& at);
  // Decodes the complete record `record` (record_ or a piece of a page).
  Status finish_record(std::string_view record);

  uint64_t stop_lsn_;
  uint64_t next_segno_ = 0;
  uint64_t segment_size_ = 0;
  uint64_t next_offset_ = 0;  // where the next piece of the segment starts
  bool started_ = false;
  bool skipping_ = false;  // the first page's continuation of an older record
  bool switched_ = false;  // XLOG_SWITCH seen: the rest of the segment is zero
  bool done_ = false;
  uint32_t last_tli_ = 0;
  std::string record_;       // the record being reassembled
  uint32_t record_len_ = 0;  // its tot_len (0: none in progress)
  uint64_t record_lsn_ = 0;  // where it starts
  uint64_t prev_lsn_ = 0;    // the previous record's start (0: unknown)
  ChangeMap changes_;
};

}  // namespace cellar::incr
