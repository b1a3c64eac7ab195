// File-system mechanism: an owning fd and small helpers for files and
// directories of the local disk. Durable writes (temp, fsync, rename, fsync
// the directory) are not here: they are the storage layer's
// (common/storage.h, common/storage_posix.h). Knows nothing about what the
// files mean.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace cellar {

// Owns a file descriptor; closes it on destruction. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// fsync of a directory, so that a rename or unlink inside it is durable.
Status fsync_dir(const std::string& dir);

// Writes all of `data` to `fd`, retrying short writes and EINTR.
Status write_all(int fd, std::string_view data, const std::string& what);

// mkdir -p with mode `mode` for the directories it creates.
Status make_dirs(const std::string& path, unsigned mode = 0700);

// Whole file as a string; fails with the path when it cannot be read.
Result<std::string> read_file(const std::string& path);

bool path_exists(const std::string& path);

// Names (not paths) in `dir`, sorted; "." and ".." left out.
Result<std::vector<std::string>> list_dir(const std::string& dir);

std::string dirname_of(const std::string& path);
std::string join_path(const std::string& a, const std::string& b);

}  // namespace cellar
