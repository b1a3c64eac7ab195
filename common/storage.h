// Storage: the one interface every file of the archive and the catalogue is
// written and read through (pgBackRest's src/storage/ idea: drivers behind one
// interface). A driver maps paths (relative to its root, '/'-separated, never
// ".." nor empty components) onto a place that keeps files: the posix driver
// (common/storage_posix.h) onto a directory of the local disk; an object-store
// driver onto a bucket.
//
// Writes stream with bounded memory and become visible under their final name
// only at commit(), durably (posix: fsync the data, rename the temp file over
// the final name, fsync the directory). A Writer that is not committed, also
// when an exception or an early return destroys it, is abandoned: its temp is
// removed and nothing is left under the final name. This is the only place in
// the tree that implements the durable commit.
//
// Not here: what must stay on this host's disk whatever the repository is —
// streaming/ with its .partial segment (written in place with pwrite and fsync),
// lock files (flock), state files and temp files of the spool. Their paths are
// local paths by construction (config/layout.h makes them from the spool
// directory, a local path), and `local_path()` tells a caller whether a
// storage path is on the local disk at all.
//
// Codecs are stream filters on top (common/storage_filter.h): a compressing
// Writer wraps a Writer, a decompressing Reader wraps a Reader.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace cellar::storage {

constexpr uint64_t kToEnd = std::numeric_limits<uint64_t>::max();

struct WriteOptions {
  unsigned mode = 0600;  // posix: the file's mode, whatever the umask
  // false: commit() leaves the parent directory's fsync to the caller, who
  // calls Storage::sync_dir once for many files (a backup writes thousands of
  // files into few directories). The file's own data is always synced on
  // posix; an object store may return from commit() before the upload is
  // done, and sync_dir() then waits for it and reports its failure.
  bool sync_dir = true;
  bool make_parents = false;  // create missing parent directories (0700) instead of failing
};

class Writer {
 public:
  virtual ~Writer() = default;
  // Appends to the file being written. Fails with the path and the reason;
  // the writer must then be abandoned (destroying it does that).
  [[nodiscard]] virtual Status write(std::string_view data) = 0;
  // Makes the file durable under its final name, replacing any file of that
  // name. The writer is spent afterwards, also when commit fails (nothing is
  // left under the final name then, unless an older file was already there).
  [[nodiscard]] virtual Status commit() = 0;
  // Drops what was written; nothing is left under the final name. Idempotent.
  virtual void abandon() = 0;
  // Bytes given to write() so far.
  virtual uint64_t written() const = 0;
  // The final path, relative to the storage's root.
  virtual const std::string& path() const = 0;
};

class Reader {
 public:
  virtual ~Reader() = default;
  // Up to `size` bytes into `buf`; 0 at the end of the file (or range).
  [[nodiscard]] virtual Result<size_t> read(char* buf, size_t size) = 0;
};

struct Entry {
  std::string name;  // within the listed directory
  bool is_dir = false;
  uint64_t size = 0;  // files only
  int64_t mtime = 0;  // seconds since the epoch
};

class Storage {
 public:
  virtual ~Storage() = default;

  // A new file `path`; see Writer. Fails when the temp cannot be created.
  [[nodiscard]] virtual Result<std::unique_ptr<Writer>> open_write(const std::string& path,
                                                                   const WriteOptions& options = {}) = 0;
  // Reads `path` from `offset`, at most `length` bytes. A missing file is an
  // error (ErrorCode::failed) whose message names it; `info` says whether it exists.
  [[nodiscard]] virtual Result<std::unique_ptr<Reader>> open_read(const std::string& path, uint64_t offset = 0,
                                                                  uint64_t length = kToEnd) = 0;
  // The entries directly under `dir`, sorted by name; a missing `dir` is empty.
  [[nodiscard]] virtual Result<std::vector<Entry>> list(const std::string& dir) = 0;
  // What `path` is, or nothing when it does not exist.
  [[nodiscard]] virtual Result<std::optional<Entry>> info(const std::string& path) = 0;
  // Removes the file `path`; a missing one is fine. The removal is durable
  // (posix: the directory is fsynced) unless sync_dir is false.
  [[nodiscard]] virtual Status remove(const std::string& path, bool sync_dir = true) = 0;
  // Appends `data` to the file `path` (created 0600 when missing) and makes
  // it durable before returning. For the one append-only catalogue file,
  // xlog.db; a driver without appends rewrites the object.
  [[nodiscard]] virtual Status append(const std::string& path, std::string_view data) = 0;
  // Every file and directory under `dir` at any depth, with `name` the path
  // relative to `dir`, sorted by name (a directory before what it holds); a
  // missing `dir` is empty. The default walks list(); drivers with a flat
  // namespace answer it in one listing.
  [[nodiscard]] virtual Result<std::vector<Entry>> list_tree(const std::string& dir);
  // Removes `dir` and everything under it; a missing one is fine. Not atomic:
  // callers first make the tree unusable (a backup's backup.info goes first).
  [[nodiscard]] virtual Status remove_tree(const std::string& dir) = 0;
  // Makes commits, renames and removals inside `dir` durable (posix: fsync
  // the directory; object stores: waits for every commit made with
  // sync_dir = false, which may still be uploading, and fails with the
  // first of their errors).
  [[nodiscard]] virtual Status sync_dir(const std::string& dir) = 0;
  // mkdir -p (0700); object stores have no directories and succeed.
  [[nodiscard]] virtual Status make_dir(const std::string& dir) = 0;
  // `path` becomes a second name of the committed file `existing` (posix: a
  // hard link). Fails when `path` exists or the driver cannot do it; callers
  // then write the file instead.
  [[nodiscard]] virtual Status link(const std::string& existing, const std::string& path) = 0;
  // The local file system path of `path` when this storage is on the local
  // disk (posix), else nothing (object stores).
  virtual std::optional<std::string> local_path(const std::string& path) const = 0;
  // `path` as a user should see it in a message: a local path, or s3://bucket/key.
  virtual std::string describe(const std::string& path) const = 0;
};

// Whether `path` exists, as a file or a directory; an error to reach the
// storage counts as "no" (the following open or list reports it).
bool exists(Storage& storage, const std::string& path);

// Writes `data` as the whole file `path` through open_write and commit.
[[nodiscard]] Status write_file(Storage& storage, const std::string& path, std::string_view data,
                                const WriteOptions& options = {});
// The whole file (or the range) as a string.
[[nodiscard]] Result<std::string> read_file(Storage& storage, const std::string& path, uint64_t offset = 0,
                                            uint64_t length = kToEnd);
// Every byte of `reader`, in pieces of at most 256 KiB, to `consume`; the
// number of bytes. Stops at the first error of either side.
[[nodiscard]] Result<uint64_t> drain(Reader& reader, const std::function<Status(std::string_view)>& consume);
// Every byte of `reader` to `writer` (not committed); the number of bytes.
[[nodiscard]] Result<uint64_t> copy(Reader& reader, Writer& writer);

// The process's namespace of absolute paths, with repositories mounted where
// they belong (common/storage_mount.h).
Storage& root();

}  // namespace cellar::storage
