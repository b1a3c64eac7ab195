#include "backup/file_pipeline.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/fs.h"
#include "common/storage_filter.h"

namespace cellar::backup {

struct FilePipeline::Job {
  std::string manifest_path;
  std::string stored_path;
  uint64_t size_hint = 0;
  std::deque<std::string> chunks;
  bool closed = false;
};

namespace {

bool reuse_matches(const ReuseEntry& e, const FileOutcome& out) {
  return e.size == out.size && e.checksum == crc32c_manifest_hex(out.crc);
}

// Gives the new file a second name of the previous backup's instead of
// committing what was written (and not yet compressed to its end).
bool link_instead(storage::Storage& store, storage::Writer& written, const ReuseEntry& e, FileOutcome& out) {
  auto old = store.info(e.stored_path);
  if (!old || !*old) return false;
  if (!store.link(e.stored_path, out.stored_path)) return false;
  written.abandon();
  out.stored_size = (*old)->size;
  out.linked = true;
  return true;
}

}  // namespace

FilePipeline::FilePipeline(const PipelineOptions& options) : options_(options) {
  if (options_.jobs == 0) options_.jobs = 1;
  if (options_.queued_files == 0) options_.queued_files = 2 * options_.jobs;
  for (unsigned i = 0; i < options_.jobs; ++i) workers_.emplace_back([this] { worker(); });
}

FilePipeline::~FilePipeline() {
  {
    std::lock_guard lk(mu_);
    if (error_.is_ok() && !workers_.empty()) error_ = Status::failed("backup aborted");
    closing_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
}

void FilePipeline::fail(const Status& st) {
  {
    std::lock_guard lk(mu_);
    if (error_.is_ok()) error_ = st;
  }
  cv_.notify_all();
}

Status FilePipeline::begin_file(const std::string& manifest_path, const std::string& stored_path, uint64_t size_hint) {
  auto job = std::make_shared<Job>();
  job->manifest_path = manifest_path;
  job->size_hint = size_hint;
  job->stored_path = stored_path + codec::codec_suffix(options_.codec);
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return !error_.is_ok() || queue_.size() < options_.queued_files; });
  if (!error_.is_ok()) return error_;
  queue_.push_back(job);
  current_ = job;
  pending_.clear();
  cv_.notify_all();
  return Status::ok();
}

Status FilePipeline::push_chunk(std::string chunk, bool close) {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return !error_.is_ok() || current_->chunks.size() < options_.chunks_per_file; });
  if (!error_.is_ok()) return error_;
  if (!chunk.empty()) current_->chunks.push_back(std::move(chunk));
  current_->closed = close;
  cv_.notify_all();
  return Status::ok();
}

Status FilePipeline::write(std::string_view bytes) {
  pending_.append(bytes);
  while (pending_.size() >= options_.chunk_size) {
    std::string chunk = pending_.substr(0, options_.chunk_size);
    pending_.erase(0, options_.chunk_size);
    if (Status st = push_chunk(std::move(chunk), false); !st) return st;
  }
  return Status::ok();
}

Status FilePipeline::end_file() {
  Status st = push_chunk(std::move(pending_), true);
  pending_.clear();
  return st;
}

Result<std::string> FilePipeline::pop_chunk(Job& job, bool& end) {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return !error_.is_ok() || !job.chunks.empty() || job.closed; });
  if (!error_.is_ok()) return error_;
  end = job.chunks.empty() && job.closed;
  if (end) return std::string();
  std::string chunk = std::move(job.chunks.front());
  job.chunks.pop_front();
  cv_.notify_all();
  return chunk;
}

// Compresses one file through a storage write and commits it (or links it).
Status FilePipeline::process(Job& job, FileOutcome& out) {
  out.manifest_path = job.manifest_path;
  out.stored_path = job.stored_path;
  storage::Storage& store = options_.storage ? *options_.storage : storage::root();
  // One big relation file (up to 1 GB) would otherwise keep one core busy
  // while the others idle at the end of the stream.
  constexpr uint64_t kLargeFile = 64ULL << 20;
  unsigned threads = job.size_hint >= kLargeFile ? options_.jobs : 1;
  storage::WriteOptions wo;
  wo.sync_dir = false;  // the StreamWriter fsyncs each directory once, at the end
  auto w = storage::open_compressed(store, job.stored_path, options_.codec, options_.level, threads, wo);
  if (!w) return w.status();
  Crc32c crc;
  for (bool end = false;;) {
    auto chunk = pop_chunk(job, end);
    if (!chunk) return chunk.status();
    if (end) break;
    crc.update(*chunk);
    if (Status st = (*w)->write(*chunk); !st) return st;
  }
  out.size = (*w)->written();
  out.crc = crc.value();
  if (options_.reuse) {
    auto it = options_.reuse->find(job.manifest_path);
    if (it != options_.reuse->end() && reuse_matches(it->second, out) && link_instead(store, **w, it->second, out))
      return Status::ok();
  }
  if (Status st = (*w)->commit(); !st) return st;
  out.stored_size = (*w)->stored();
  return Status::ok();
}

void FilePipeline::worker() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return !error_.is_ok() || !queue_.empty() || closing_; });
      if (!error_.is_ok() || queue_.empty()) return;
      job = queue_.front();
      queue_.pop_front();
      cv_.notify_all();
    }
    FileOutcome out;
    Status st = process(*job, out);
    if (!st) {
      fail(st);  // the writer was abandoned when process() returned
      return;
    }
    std::lock_guard lk(mu_);
    outcomes_.push_back(std::move(out));
  }
}

Result<std::vector<FileOutcome>> FilePipeline::finish() {
  {
    std::lock_guard lk(mu_);
    closing_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  if (!error_.is_ok()) return error_;
  return std::move(outcomes_);
}

}  // namespace cellar::backup
