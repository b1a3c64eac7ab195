#include "locks/lock_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "locks/kernel_locks.h"

namespace cellar::locks {
namespace {

using Clock = std::chrono::steady_clock;

// Polling interval bounds while waiting with a timeout: flock(2) has no
// timeout, and a blocking flock interrupted by a timer signal would need a
// process-wide signal handler. Start short (a lock released at once is taken
// at once), back off to at most 50 ms of lateness.
constexpr std::chrono::microseconds kFirstPoll{500};
constexpr std::chrono::microseconds kMaxPoll{50000};

void sleep_for(std::chrono::microseconds d) {
  timespec ts{static_cast<time_t>(d.count() / 1000000), static_cast<long>(d.count() % 1000000) * 1000};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// flock(LOCK_EX) on fd: 0 when taken, EWOULDBLOCK when busy (or the deadline
// passed), another errno on failure.
int lock_fd(int fd, bool wait, std::optional<Clock::time_point> deadline) {
  if (wait && !deadline) {
    while (::flock(fd, LOCK_EX) != 0)
      if (errno != EINTR) return errno;
    return 0;
  }
  auto pause = kFirstPoll;
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return 0;
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK || !wait) return errno;
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(*deadline - Clock::now());
    if (left.count() <= 0) return EWOULDBLOCK;
    sleep_for(std::min(pause, left));
    pause = std::min(pause * 2, kMaxPoll);
  }
}

// After locking: is the file we locked still linked? A cleaner unlinks a lock
// file only while holding it, so an acquirer that opened the file before the
// unlink may get the flock on an inode that no longer has a name; it must
// retry on the path's new file. (Lock files are never renamed, so "still
// linked" means "still at path"; one fstat instead of a second path lookup.)
Result<bool> still_linked(int fd, const std::string& path, struct stat& sb) {
  if (::fstat(fd, &sb) != 0) return Status::from_errno("cannot stat lock file \"" + path + "\"", errno);
  return sb.st_nlink > 0;
}

// "<pid>\n" at offset 0, and nothing after it. Skipped when the file already
// says exactly that (this process took the lock before): a write and a
// truncate are the most expensive steps of an acquire.
Status write_pid(int fd, const std::string& path, const struct stat& sb) {
  char pid[24], old[24];
  int n = std::snprintf(pid, sizeof pid, "%d\n", static_cast<int>(::getpid()));
  if (sb.st_size == n && ::pread(fd, old, static_cast<size_t>(n), 0) == n &&
      std::memcmp(old, pid, static_cast<size_t>(n)) == 0)
    return Status::ok();
  if (::pwrite(fd, pid, static_cast<size_t>(n), 0) != n || (sb.st_size > n && ::ftruncate(fd, n) != 0))
    return Status::from_errno("cannot write the PID into lock file \"" + path + "\"", errno);
  return Status::ok();
}

Status open_error(const std::string& path, int err) {
  std::string dir = dirname_of(path);
  if (err == EACCES || err == EPERM)
    return Status::failed("permission denied on lock file \"" + path + "\"",
                          "run cellar as the user that owns the lock directory \"" + dir +
                              "\", or give that user read and write access to the file");
  if (err == ENOENT)
    return Status::failed("cannot open lock file \"" + path + "\": " + std::strerror(err),
                          "create the lock directory \"" + dir + "\" (mode 0700) or set lock_directory");
  return Status::from_errno("cannot lock \"" + path + "\"", err);
}

Status busy_error(const std::string& path, bool waited) {
  LockFile probe(path);
  auto pid = probe.owner_pid();
  std::string holder = pid ? "held by PID " + std::to_string(*pid) : "held by another process";
  return Status::busy("lock file \"" + path + "\" is " + holder + (waited ? " (timed out waiting)" : ""));
}

}  // namespace

LockFile::LockFile(std::string path, bool raise_if_fail, bool wait)
    : path_(std::move(path)), raise_if_fail_(raise_if_fail), wait_(wait) {}

LockFile::LockFile(LockFile&& other) noexcept
    : path_(std::move(other.path_)),
      raise_if_fail_(other.raise_if_fail_),
      wait_(other.wait_),
      fd_(std::move(other.fd_)) {}

LockFile& LockFile::operator=(LockFile&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    raise_if_fail_ = other.raise_if_fail_;
    wait_ = other.wait_;
    fd_ = std::move(other.fd_);
  }
  return *this;
}

LockFile::~LockFile() { release(); }

Result<bool> LockFile::acquire(const AcquireOptions& options) {
  if (held()) return true;
  const bool raise = options.raise_if_fail.value_or(raise_if_fail_);
  const bool wait = options.wait.value_or(wait_);
  std::optional<Clock::time_point> deadline;
  if (wait && options.timeout) deadline = Clock::now() + *options.timeout;
  // Retried only when the file we locked was unlinked or replaced meanwhile.
  for (int attempt = 0; attempt < 100; ++attempt) {
    UniqueFd fd(::open(path_.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600));
    if (!fd.valid()) return open_error(path_, errno);
    int err = lock_fd(fd.get(), wait, deadline);
    if (err == EWOULDBLOCK) {
      if (!raise) return false;
      return busy_error(path_, wait);
    }
    if (err != 0) return Status::from_errno("cannot lock \"" + path_ + "\"", err);
    struct stat sb {};
    auto linked = still_linked(fd.get(), path_, sb);
    if (!linked) return linked.status();
    if (!*linked) continue;
    if (options.update_pid)
      if (Status st = write_pid(fd.get(), path_, sb); !st) return st;
    fd_ = std::move(fd);
    return true;
  }
  return Status::failed("cannot lock \"" + path_ + "\": the file keeps being replaced",
                        "check what else removes files in \"" + dirname_of(path_) + "\"");
}

void LockFile::release() {
  if (!fd_.valid()) return;
  ::flock(fd_.get(), LOCK_UN);  // errors ignored, as barman.lockfile: close() drops it anyway
  fd_.reset();
}

std::optional<pid_t> LockFile::owner_pid() const {
  auto id = file_id_of(path_);
  if (!id) return std::nullopt;
  auto holder = KernelLockTable::load().holder(*id, path_);
  if (!holder) return std::nullopt;
  if (holder->pid > 0) return holder->pid;
  // Held, but the kernel cannot name the holder: fall back to the file's PID.
  auto content = read_file(path_);
  if (!content) return std::nullopt;
  char* end = nullptr;
  long pid = std::strtol(content->c_str(), &end, 10);
  if (pid <= 0 || end == content->c_str()) return std::nullopt;
  return static_cast<pid_t>(pid);
}

}  // namespace cellar::locks
