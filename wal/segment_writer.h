// Writes streamed WAL into <dir>/<segment>.partial files the way
// pg_receivewal does: a new file is zero-filled to the full segment size and
// fsynced with its directory before use; data is written in place; at the
// segment's end the file is fsynced, renamed to its final name and the
// directory fsynced. flushed() only ever moves after an fsync, so it is the
// position that may be reported to PostgreSQL as flushed. A failed fsync is
// final (PostgreSQL's fsyncgate): the segment's descriptor is closed without
// another fsync and written() falls back to flushed(), so the WAL since the
// last good fsync must be streamed again into a new writer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/fs.h"
#include "common/status.h"
#include "pg/wal_names.h"

namespace cellar::wal {

class SegmentWriter {
 public:
  // `start` must be a segment boundary: everything before it is durable elsewhere.
  SegmentWriter(std::string dir, pg::TimeLineId tli, uint64_t segment_size, pg::Lsn start);
  ~SegmentWriter();

  // Writes WAL that begins at `at` (must equal written()); may cross segment
  // boundaries, completing segments on the way.
  Status write(pg::Lsn at, std::string_view data);
  // fsyncs the open segment so that flushed() == written().
  Status flush();
  // fsyncs and closes the open segment without renaming it (stream ended
  // mid-segment: it stays .partial).
  Status close_partial();

  pg::Lsn written() const { return written_; }
  pg::Lsn flushed() const { return flushed_; }
  pg::TimeLineId timeline() const { return tli_; }
  // Number of segments completed (renamed) so far.
  uint64_t completed() const { return completed_; }

 private:
  std::string partial_path(pg::SegNo segno) const;
  Status open_segment(pg::SegNo segno);
  Status complete_segment();
  Status abandon(Status why);

  std::string dir_;
  pg::TimeLineId tli_;
  uint64_t seg_size_;
  UniqueFd fd_;
  pg::SegNo segno_ = 0;
  pg::Lsn written_;
  pg::Lsn flushed_;
  uint64_t completed_ = 0;
};

}  // namespace cellar::wal
