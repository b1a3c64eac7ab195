// The writing side of a backup: files of the archive stream, compressed by N
// worker threads and written through the storage layer (committed durably,
// the directory fsyncs left to the caller). The protocol
// reader is one thread producing one file at a time; it hands the bytes over
// in chunks through bounded queues (at most `queued_files` files waiting, each
// holding at most `chunks_per_file` chunks), so memory stays bounded whatever
// the size of the database: the reader blocks while the workers are behind.
//
// Dedup (reuse_backup = link): the CRC-32C of each file is computed while it
// is written; when the previous backup's manifest lists the same path with the
// same size and checksum, and its stored file uses the same codec, the new
// write is abandoned and the file becomes a second name (a hard link) of the
// old one. Comparing after streaming costs the compression but is always
// right: the checksum is only known at the end.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/codec.h"
#include "common/status.h"
#include "common/storage.h"

namespace cellar::backup {

// A file of the previous backup that a new one may link to.
struct ReuseEntry {
  uint64_t size = 0;        // decompressed size (manifest Size)
  std::string checksum;     // manifest CRC32C hex
  std::string stored_path;  // its file on disk
};
using ReuseMap = std::unordered_map<std::string, ReuseEntry>;  // by manifest path

struct FileOutcome {
  std::string manifest_path;  // "base/1/1259", "pg_tblspc/16384/PG_15_.../..."
  std::string stored_path;    // the file on disk, with the codec suffix
  uint64_t size = 0;          // bytes before compression
  uint64_t stored_size = 0;   // bytes on disk
  uint32_t crc = 0;           // CRC-32C of the bytes before compression
  bool linked = false;        // a hard link to the previous backup's file
};

struct PipelineOptions {
  unsigned jobs = 1;                        // worker threads
  codec::Codec codec = codec::Codec::none;  // each file's codec
  int level = 0;                            // 0 = the codec's default
  const ReuseMap* reuse = nullptr;          // previous backup's files; null = no dedup
  size_t chunk_size = 256 * 1024;           // bytes per queued chunk
  size_t chunks_per_file = 4;               // queued chunks per file
  size_t queued_files = 0;                  // files waiting for a worker; 0 = 2 × jobs
  storage::Storage* storage = nullptr;      // where stored paths live; null = the local disk
};

class FilePipeline {
 public:
  explicit FilePipeline(const PipelineOptions& options);
  ~FilePipeline();  // aborts and joins the workers if finish() was not called
  FilePipeline(const FilePipeline&) = delete;
  FilePipeline& operator=(const FilePipeline&) = delete;

  // The reader's side, one file at a time. Each fails with the first worker
  // error, after which the pipeline is dead.
  // size_hint: the file's size when known (from the tar header); a large
  // file is compressed with every job's thread, not just one worker's.
  Status begin_file(const std::string& manifest_path, const std::string& stored_path, uint64_t size_hint = 0);
  Status write(std::string_view bytes);
  Status end_file();
  // Waits for every file; their outcomes, or the first error.
  Result<std::vector<FileOutcome>> finish();

  struct Job;

 private:
  Status push_chunk(std::string chunk, bool close);
  void worker();
  Status process(Job& job, FileOutcome& out);
  Result<std::string> pop_chunk(Job& job, bool& end);
  void fail(const Status& st);

  PipelineOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::shared_ptr<Job> current_;
  std::string pending_;
  bool closing_ = false;  // no more files will come
  Status error_;
  std::vector<FileOutcome> outcomes_;
  std::vector<std::thread> workers_;
};

}  // namespace cellar::backup
