#include "wal/segment_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "common/storage.h"
#include "common/storage_posix.h"

namespace cellar::wal {

SegmentWriter::SegmentWriter(std::string dir, pg::TimeLineId tli, uint64_t segment_size, pg::Lsn start)
    : dir_(std::move(dir)), tli_(tli), seg_size_(segment_size), written_(start), flushed_(start) {}

SegmentWriter::~SegmentWriter() { (void)close_partial(); }

std::string SegmentWriter::partial_path(pg::SegNo segno) const {
  return join_path(dir_, pg::make_segment_name(tli_, segno, seg_size_) + ".partial");
}

// After a failed fsync the kernel may have dropped the dirty pages, and a
// second fsync of the descriptor would "succeed" on data that is gone: it is
// closed unsynced, and what was written since the last good fsync counts as
// never written, so no later flush() can report it.
Status SegmentWriter::abandon(Status why) {
  fd_.reset();
  written_ = flushed_;
  return why;
}

// Opens <segment>.partial for writing at its start. An existing file of the
// full size is reused (fsynced first, in case the last writer crashed before
// its fsync); anything else is replaced by a zero-filled file.
Status SegmentWriter::open_segment(pg::SegNo segno) {
  std::string path = partial_path(segno);
  struct stat sb {};
  if (::stat(path.c_str(), &sb) == 0 && static_cast<uint64_t>(sb.st_size) == seg_size_) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid()) return Status::from_errno("could not open \"" + path + "\"", errno);
    if (::fsync(fd.get()) != 0) return Status::from_errno("could not fsync \"" + path + "\"", errno);
    fd_ = std::move(fd);
    segno_ = segno;
    return Status::ok();
  }
  // The zero-filled file appears whole under its .partial name or not at all
  // (archive-wal leaves the storage's temp names alone).
  auto zeroed = storage::root().open_write(path);
  if (!zeroed) return zeroed.status();
  const std::string zeros(1 << 20, '\0');
  for (uint64_t done = 0; done < seg_size_; done += zeros.size())
    if (Status st = (*zeroed)->write(zeros); !st) return st;
  if (Status st = (*zeroed)->commit(); !st) return st;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::from_errno("could not open \"" + path + "\"", errno);
  fd_ = std::move(fd);
  segno_ = segno;
  return Status::ok();
}

Status SegmentWriter::complete_segment() {
  std::string name = pg::make_segment_name(tli_, segno_, seg_size_);
  Status st = storage::durable_rename(fd_.get(), partial_path(segno_), join_path(dir_, name));
  if (!st) return abandon(st);
  fd_.reset();
  flushed_ = written_;
  ++completed_;
  return Status::ok();
}

Status SegmentWriter::write(pg::Lsn at, std::string_view data) {
  if (at != written_)
    return Status::failed("received WAL at " + pg::format_lsn(at) + " but expected " + pg::format_lsn(written_));
  while (!data.empty()) {
    pg::SegNo segno = pg::segno_of(written_, seg_size_);
    if (!fd_.valid()) {
      if (Status st = open_segment(segno); !st) return st;
    }
    uint64_t offset = written_ % seg_size_;
    size_t chunk = static_cast<size_t>(std::min<uint64_t>(data.size(), seg_size_ - offset));
    size_t done = 0;
    while (done < chunk) {
      ssize_t n = ::pwrite(fd_.get(), data.data() + done, chunk - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::from_errno("could not write WAL segment in \"" + dir_ + "\"", errno);
      }
      done += static_cast<size_t>(n);
    }
    written_ += chunk;
    data.remove_prefix(chunk);
    if (written_ % seg_size_ == 0) {
      if (Status st = complete_segment(); !st) return st;
    }
  }
  return Status::ok();
}

Status SegmentWriter::flush() {
  if (fd_.valid() && flushed_ != written_) {
    if (::fsync(fd_.get()) != 0) {
      int err = errno;
      return abandon(Status::from_errno("could not fsync \"" + partial_path(segno_) + "\"", err));
    }
  }
  flushed_ = written_;
  return Status::ok();
}

Status SegmentWriter::close_partial() {
  if (!fd_.valid()) return Status::ok();
  Status st = flush();
  fd_.reset();
  return st;
}

}  // namespace cellar::wal
