#include "locks/inspect.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <ctime>
#include <thread>

#include "common/fs.h"
#include "locks/kernel_locks.h"

namespace cellar::locks {
namespace {

bool is_lock_file_name(const std::string& name) {
  return name.size() > 5 && name[0] == '.' && name.compare(name.size() - 5, 5, ".lock") == 0;
}

struct DirEntry {
  std::string name;
  ino_t ino;
};

// The ".*.lock" entries of `dir` with their inode numbers (from readdir: no
// per-file system call), sorted by name.
Result<std::vector<DirEntry>> list_lock_files(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return Status::from_errno("cannot list lock directory \"" + dir + "\"", errno);
  std::vector<DirEntry> names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (is_lock_file_name(name)) names.push_back({std::move(name), e->d_ino});
  }
  ::closedir(d);
  std::sort(names.begin(), names.end(), [](const DirEntry& x, const DirEntry& y) { return x.name < y.name; });
  return names;
}

bool wanted_name(const std::optional<LockName>& name, const ScanOptions& options) {
  if (!name) return options.all && options.server.empty();
  return options.server.empty() || name->server == options.server;
}

// The first line of the file, as a PID or as raw text.
void read_content(int fd, LockEntry& entry) {
  char buf[64];
  ssize_t n = ::pread(fd, buf, sizeof buf, 0);
  if (n < 0) {
    entry.unreadable = true;
    return;
  }
  std::string text(buf, static_cast<size_t>(n));
  text = text.substr(0, text.find('\n'));
  // Like Barman's int(line.strip()): surrounding blanks are fine.
  size_t first = text.find_first_not_of(" \t\r"), last = text.find_last_not_of(" \t\r");
  if (first == std::string::npos) return;
  text = text.substr(first, last - first + 1);
  char* end = nullptr;
  errno = 0;
  long pid = std::strtol(text.c_str(), &end, 10);
  bool digits = std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits && errno == 0 && pid > 0 && pid <= INT_MAX)
    entry.pid_in_file = static_cast<pid_t>(pid);
  else
    entry.content = text;
}

// Stats and reads one file (read-only, never creating or locking it).
bool examine(int dir_fd, const std::string& dir, const KernelLockTable& table, std::time_t now, LockEntry& entry) {
  struct stat sb {};
  UniqueFd fd(::openat(dir_fd, entry.file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (fd.valid() ? ::fstat(fd.get(), &sb) != 0 : ::fstatat(dir_fd, entry.file.c_str(), &sb, AT_SYMLINK_NOFOLLOW) != 0)
    return false;  // vanished meanwhile
  if (!S_ISREG(sb.st_mode)) return false;
  if (fd.valid())
    read_content(fd.get(), entry);
  else
    entry.unreadable = true;
  entry.age_seconds = std::max<int64_t>(0, static_cast<int64_t>(now - sb.st_mtime));
  // The readdir inode said the same unless the file was replaced meanwhile.
  if (auto holder = table.holder(FileId{sb.st_dev, sb.st_ino}, dir, entry.file);
      holder.has_value() != entry.held || (holder && holder->pid != entry.pid.value_or(0))) {
    entry.held = holder.has_value();
    entry.pid = holder && holder->pid > 0 ? std::optional<pid_t>(holder->pid) : std::nullopt;
    entry.command = entry.pid ? command_line_of(*entry.pid) : "";
  }
  return true;
}

std::string absolute(const std::string& dir) {
  char buf[PATH_MAX];
  return ::realpath(dir.c_str(), buf) ? std::string(buf) : dir;
}

// Sets held/pid/command from the kernel table.
void set_holder(const KernelLockTable& table, const FileId& id, const std::string& dir, const std::string& file,
                LockEntry& entry) {
  auto holder = table.holder(id, dir, file);
  entry.held = holder.has_value();
  entry.pid.reset();
  entry.command.clear();
  if (holder && holder->pid > 0) {
    entry.pid = holder->pid;
    entry.command = command_line_of(holder->pid);
  }
}

// examine() for every entry, on a few threads (the per-file system calls
// dominate a large scan and are independent); false where a file vanished.
std::vector<char> examine_all(int dir_fd, const std::string& dir, const KernelLockTable& table,
                              std::vector<LockEntry>& entries) {
  const std::time_t now = std::time(nullptr);
  std::vector<char> present(entries.size(), 0);
  auto work = [&](size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) present[i] = examine(dir_fd, dir, table, now, entries[i]);
  };
  size_t threads = entries.size() < 512 ? 1 : std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t)
    pool.emplace_back(work, entries.size() * t / threads, entries.size() * (t + 1) / threads);
  work(0, entries.size() / threads);
  for (auto& th : pool) th.join();
  return present;
}

}  // namespace

Result<std::vector<LockEntry>> scan_locks(const std::string& dir_in, const ScanOptions& options) {
  const std::string dir = absolute(dir_in);
  auto listed = list_lock_files(dir);
  if (!listed) return listed.status();
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  struct stat dir_sb {};
  if (!dir_fd.valid() || ::fstat(dir_fd.get(), &dir_sb) != 0)
    return Status::from_errno("cannot open lock directory \"" + dir + "\"", errno);
  const KernelLockTable table = KernelLockTable::load();
  // First pass, from names and readdir inodes only: filter before any I/O.
  std::vector<LockEntry> entries;
  for (auto& [file, ino] : *listed) {
    LockEntry entry;
    entry.name = parse_lock_file_name(file);
    if (!wanted_name(entry.name, options)) continue;
    set_holder(table, FileId{dir_sb.st_dev, ino}, dir, file, entry);
    if (options.stale_only && entry.held) continue;
    entry.file = std::move(file);
    entries.push_back(std::move(entry));
  }
  if (!options.details) return entries;
  // Second pass: each file's content and age (and its state again by fstat).
  auto present = examine_all(dir_fd.get(), dir, table, entries);
  std::vector<LockEntry> out;
  for (size_t i = 0; i < entries.size(); ++i)
    if (present[i] && !(options.stale_only && entries[i].held)) out.push_back(std::move(entries[i]));
  return out;
}

CleanResult remove_if_free(const std::string& dir, const std::string& file) {
  const std::string path = join_path(dir, file);
  for (int attempt = 0; attempt < 10; ++attempt) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid()) {
      if (errno == ENOENT) return {file, CleanOutcome::gone, {}};
      return {file, CleanOutcome::failed, Status::from_errno("cannot open lock file \"" + path + "\"", errno)};
    }
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) return {file, CleanOutcome::held, {}};
      return {file, CleanOutcome::failed, Status::from_errno("cannot lock \"" + path + "\"", errno)};
    }
    struct stat by_fd {
    }, by_path{};
    if (::fstat(fd.get(), &by_fd) != 0) break;
    if (::stat(path.c_str(), &by_path) != 0) return {file, CleanOutcome::gone, {}};
    if (by_fd.st_ino != by_path.st_ino || by_fd.st_dev != by_path.st_dev) continue;  // replaced: look again
    if (::unlink(path.c_str()) != 0)
      return {file, CleanOutcome::failed, Status::from_errno("cannot remove lock file \"" + path + "\"", errno)};
    return {file, CleanOutcome::removed, {}};  // fd closes here: released after the unlink
  }
  return {file, CleanOutcome::failed, Status::failed("lock file \"" + path + "\" keeps changing; left alone")};
}

std::vector<CleanResult> clean_locks(const std::string& dir, const std::vector<LockEntry>& entries) {
  std::vector<CleanResult> results;
  for (const auto& entry : entries) {
    if (entry.held) {
      results.push_back({entry.file, CleanOutcome::held, {}});
      continue;
    }
    results.push_back(remove_if_free(dir, entry.file));
  }
  if (std::any_of(results.begin(), results.end(),
                  [](const CleanResult& r) { return r.outcome == CleanOutcome::removed; }))
    (void)fsync_dir(dir);
  return results;
}

}  // namespace cellar::locks
