#include "common/storage_posix.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>

#include "common/fs.h"

namespace cellar::storage {
namespace {

constexpr std::string_view kTempMark = ".cellar-tmp.";

std::string make_temp_name(const std::string& final_path) {
  static std::atomic<uint64_t> counter{0};
  return final_path + std::string(kTempMark) + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

// Paths from callers are trusted to be built by config/layout.h or validated
// names; this catches a bug before it escapes the root.
Status check_relative(const std::string& path) {
  if (path.find('\0') != std::string::npos || path.find("/../") != std::string::npos || path.rfind("../", 0) == 0 ||
      path == ".." || (path.size() >= 3 && path.compare(path.size() - 3, 3, "/..") == 0))
    return Status::failed("invalid storage path \"" + path + "\"");
  return Status::ok();
}

// The durable commit, the only one in the tree: the data reaches the disk
// before the name does, and the name before anyone is told. A failed fsync
// is final: the caller abandons the file and never fsyncs it again.
Status commit_steps(UniqueFd& fd, const std::string& from, const std::string& to, bool sync_dirs) {
  if (fd.valid()) {
    if (::fsync(fd.get()) != 0) return Status::from_errno("could not fsync \"" + from + "\"", errno);
    if (::close(fd.release()) != 0) return Status::from_errno("could not close \"" + from + "\"", errno);
  }
  if (::rename(from.c_str(), to.c_str()) != 0)
    return Status::from_errno("could not rename \"" + from + "\" to \"" + to + "\"", errno);
  if (!sync_dirs) return Status::ok();
  if (Status st = fsync_dir(dirname_of(to)); !st) return st;
  if (dirname_of(from) != dirname_of(to)) return fsync_dir(dirname_of(from));
  return Status::ok();
}

class PosixWriter final : public Writer {
 public:
  PosixWriter(std::string path, std::string final_path, std::string temp, UniqueFd fd, bool sync_dir)
      : path_(std::move(path)),
        final_(std::move(final_path)),
        temp_(std::move(temp)),
        fd_(std::move(fd)),
        sync_dir_(sync_dir) {}
  ~PosixWriter() override { abandon(); }

  Status write(std::string_view data) override {
    if (!fd_.valid()) return Status::failed("write to \"" + final_ + "\" after it was committed or abandoned");
    Status st = write_all(fd_.get(), data, temp_);
    if (st) written_ += data.size();
    return st;
  }

  Status commit() override {
    if (!fd_.valid()) return Status::failed("\"" + final_ + "\" was already committed or abandoned");
    Status st = commit_steps(fd_, temp_, final_, sync_dir_);
    if (!st) {
      abandon();
      return st;
    }
    temp_.clear();
    return Status::ok();
  }

  void abandon() override {
    fd_.reset();
    if (!temp_.empty()) ::unlink(temp_.c_str());
    temp_.clear();
  }

  uint64_t written() const override { return written_; }
  const std::string& path() const override { return path_; }

 private:
  std::string path_;   // as the caller named it
  std::string final_;  // on disk
  std::string temp_;   // "" once renamed or removed
  UniqueFd fd_;
  bool sync_dir_;
  uint64_t written_ = 0;
};

class PosixReader final : public Reader {
 public:
  PosixReader(std::string name, UniqueFd fd, uint64_t offset, uint64_t length)
      : name_(std::move(name)), fd_(std::move(fd)), pos_(offset), left_(length) {}
  Result<size_t> read(char* buf, size_t size) override {
    size_t want = static_cast<size_t>(std::min<uint64_t>(size, left_));
    if (want == 0) return size_t{0};
    for (;;) {
      ssize_t n = ::pread(fd_.get(), buf, want, static_cast<off_t>(pos_));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::from_errno("could not read \"" + name_ + "\"", errno);
      pos_ += static_cast<uint64_t>(n);
      left_ -= static_cast<uint64_t>(n);
      return static_cast<size_t>(n);
    }
  }

 private:
  std::string name_;
  UniqueFd fd_;
  uint64_t pos_;
  uint64_t left_;
};

Entry entry_of(std::string name, const struct stat& sb) {
  Entry e;
  e.name = std::move(name);
  e.is_dir = S_ISDIR(sb.st_mode);
  e.size = e.is_dir ? 0 : static_cast<uint64_t>(sb.st_size);
  e.mtime = sb.st_mtim.tv_sec;
  return e;
}

class PosixStorage final : public Storage {
 public:
  explicit PosixStorage(std::string root) : root_(std::move(root)) {}

  Result<std::unique_ptr<Writer>> open_write(const std::string& path, const WriteOptions& options) override {
    if (Status st = check_relative(path); !st) return st;
    const std::string final_path = full(path);
    if (options.make_parents) {
      if (Status st = make_dirs(dirname_of(final_path)); !st) return st;
    }
    const std::string temp = make_temp_name(final_path);
    UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd.valid()) return Status::from_errno("could not create \"" + temp + "\"", errno);
    if (::fchmod(fd.get(), static_cast<mode_t>(options.mode)) != 0) {
      Status st = Status::from_errno("could not set the mode of \"" + temp + "\"", errno);
      ::unlink(temp.c_str());
      return st;
    }
    return std::unique_ptr<Writer>(
        std::make_unique<PosixWriter>(path, final_path, temp, std::move(fd), options.sync_dir));
  }

  Result<std::unique_ptr<Reader>> open_read(const std::string& path, uint64_t offset, uint64_t length) override {
    if (Status st = check_relative(path); !st) return st;
    const std::string p = full(path);
    UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return Status::from_errno("could not open \"" + p + "\"", errno);
    return std::unique_ptr<Reader>(std::make_unique<PosixReader>(p, std::move(fd), offset, length));
  }

  Result<std::vector<Entry>> list(const std::string& dir) override {
    if (Status st = check_relative(dir); !st) return st;
    const std::string p = full(dir);
    DIR* d = ::opendir(p.c_str());
    if (d == nullptr) {
      if (errno == ENOENT) return std::vector<Entry>{};
      return Status::from_errno("could not open directory \"" + p + "\"", errno);
    }
    std::vector<Entry> out;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      struct stat sb {};
      if (::fstatat(::dirfd(d), e->d_name, &sb, 0) != 0) continue;  // removed meanwhile
      out.push_back(entry_of(std::move(name), sb));
    }
    ::closedir(d);
    std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
    return out;
  }

  Result<std::optional<Entry>> info(const std::string& path) override {
    if (Status st = check_relative(path); !st) return st;
    const std::string p = full(path);
    struct stat sb {};
    if (::stat(p.c_str(), &sb) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return std::optional<Entry>{};
      return Status::from_errno("could not stat \"" + p + "\"", errno);
    }
    return std::optional<Entry>(entry_of(path.substr(path.find_last_of('/') + 1), sb));
  }

  Status remove(const std::string& path, bool sync_dir) override {
    if (Status st = check_relative(path); !st) return st;
    const std::string p = full(path);
    if (::unlink(p.c_str()) != 0) {
      if (errno == ENOENT) return Status::ok();
      return Status::from_errno("could not remove \"" + p + "\"", errno);
    }
    return sync_dir ? fsync_dir(dirname_of(p)) : Status::ok();
  }

  Status append(const std::string& path, std::string_view data) override {
    if (Status st = check_relative(path); !st) return st;
    const std::string p = full(path);
    const bool created = !path_exists(p);
    UniqueFd fd(::open(p.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
    if (!fd.valid()) return Status::from_errno("could not open \"" + p + "\"", errno);
    if (Status st = write_all(fd.get(), data, p); !st) return st;
    if (::fsync(fd.get()) != 0) return Status::from_errno("could not fsync \"" + p + "\"", errno);
    return created ? fsync_dir(dirname_of(p)) : Status::ok();
  }

  Status remove_tree(const std::string& dir) override {
    if (Status st = check_relative(dir); !st) return st;
    const std::string p = full(dir);
    std::error_code ec;
    auto removed = std::filesystem::remove_all(p, ec);
    if (ec) return Status::failed("could not remove \"" + p + "\": " + ec.message());
    return removed == 0 ? Status::ok() : fsync_dir(dirname_of(p));
  }

  Status sync_dir(const std::string& dir) override { return fsync_dir(full(dir)); }

  Status make_dir(const std::string& dir) override { return make_dirs(full(dir)); }

  Status link(const std::string& existing, const std::string& path) override {
    const std::string from = full(existing), to = full(path);
    if (::link(from.c_str(), to.c_str()) != 0)
      return Status::from_errno("could not link \"" + to + "\" to \"" + from + "\"", errno);
    return Status::ok();
  }

  std::optional<std::string> local_path(const std::string& path) const override { return full(path); }
  std::string describe(const std::string& path) const override { return full(path); }

 private:
  std::string full(const std::string& path) const {
    if (root_ == "/") return path.empty() || path[0] != '/' ? "/" + path : path;
    return join_path(root_, path);
  }
  std::string root_;
};

}  // namespace

Status durable_rename(int fd, const std::string& from, const std::string& to) {
  UniqueFd owned(fd >= 0 ? ::dup(fd) : -1);
  if (fd >= 0 && !owned.valid())
    return Status::from_errno("could not duplicate the descriptor of \"" + from + "\"", errno);
  return commit_steps(owned, from, to, true);
}

std::unique_ptr<Storage> make_posix(std::string root) { return std::make_unique<PosixStorage>(std::move(root)); }

bool is_temp_name(std::string_view name) { return name.find(kTempMark) != std::string_view::npos; }

Result<std::vector<Entry>> Storage::list_tree(const std::string& dir) {
  std::vector<Entry> out;
  std::vector<std::string> todo{""};
  while (!todo.empty()) {
    std::string rel = todo.back();
    todo.pop_back();
    auto entries = list(rel.empty() ? dir : dir + "/" + rel);
    if (!entries) return entries.status();
    for (auto& e : *entries) {
      std::string name = rel.empty() ? e.name : rel + "/" + e.name;
      if (e.is_dir) todo.push_back(name);
      e.name = std::move(name);
      out.push_back(std::move(e));
    }
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return out;
}

bool exists(Storage& storage, const std::string& path) {
  auto e = storage.info(path);
  return e && e->has_value();
}

Status write_file(Storage& storage, const std::string& path, std::string_view data, const WriteOptions& options) {
  auto writer = storage.open_write(path, options);
  if (!writer) return writer.status();
  if (Status st = (*writer)->write(data); !st) return st;
  return (*writer)->commit();
}

Result<std::string> read_file(Storage& storage, const std::string& path, uint64_t offset, uint64_t length) {
  auto reader = storage.open_read(path, offset, length);
  if (!reader) return reader.status();
  std::string out;
  auto got = drain(**reader, [&](std::string_view piece) {
    out.append(piece);
    return Status::ok();
  });
  if (!got) return got.status();
  return out;
}

Result<uint64_t> drain(Reader& reader, const std::function<Status(std::string_view)>& consume) {
  std::string buf(256 * 1024, '\0');
  uint64_t total = 0;
  for (;;) {
    auto n = reader.read(buf.data(), buf.size());
    if (!n) return n.status();
    if (*n == 0) return total;
    if (Status st = consume({buf.data(), *n}); !st) return st;
    total += *n;
  }
}

Result<uint64_t> copy(Reader& reader, Writer& writer) {
  return drain(reader, [&](std::string_view piece) { return writer.write(piece); });
}

}  // namespace cellar::storage
