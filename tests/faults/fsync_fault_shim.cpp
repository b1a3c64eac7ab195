// An LD_PRELOAD shim for the fault matrix (docs/reliability.md): fsync and
// fdatasync of a file whose path contains $CELLAR_FAIL_FSYNC fail with EIO
// — the disk that loses a write, at the OS edge. A needle ending in '$' must
// end the path ("X.partial$" matches the file, not "X.partial.cellar-tmp.1").
// With $CELLAR_FAIL_FSYNC_ONCE=1 only the first such call fails and the next
// ones succeed, as the page cache would let a retried fsync "succeed" after
// dropping the dirty pages (PostgreSQL's fsyncgate): a program that retries
// and calls that good is caught. Each failure is written to
// $CELLAR_FAIL_FSYNC_LOG (one "path\n" line), when set, and so is every later
// fsync of a descriptor whose fsync failed, before it is closed ("retried:
// path\n"): a program that obeys the fsyncgate rule never writes that line.
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace {

std::atomic<bool> g_failed_once{false};

// Descriptors whose fsync failed, until they are closed.
constexpr int kMaxFd = 4096;
std::atomic<bool> g_failed_fd[kMaxFd];

bool matches(std::string_view path, std::string_view needle) {
  if (needle.back() != '$') return path.find(needle) != std::string_view::npos;
  needle.remove_suffix(1);
  return path.size() >= needle.size() && path.substr(path.size() - needle.size()) == needle;
}

void log_line(const char* prefix, char* path, ssize_t n) {
  const char* log = std::getenv("CELLAR_FAIL_FSYNC_LOG");
  if (!log || !*log) return;
  int out = ::open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (out < 0) return;
  path[n] = '\n';
  (void)!::write(out, prefix, std::strlen(prefix));
  (void)!::write(out, path, static_cast<size_t>(n) + 1);
  path[n] = '\0';
  ::close(out);
}

bool should_fail(int fd) {
  const char* needle = std::getenv("CELLAR_FAIL_FSYNC");
  if (!needle || !*needle) return false;
  char link[64], path[4096];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = ::readlink(link, path, sizeof path - 1);
  if (n <= 0) return false;
  path[n] = '\0';
  bool tracked = fd >= 0 && fd < kMaxFd;
  if (tracked && g_failed_fd[fd]) log_line("retried: ", path, n);
  if (!matches(std::string_view(path, static_cast<size_t>(n)), needle)) return false;
  const char* once = std::getenv("CELLAR_FAIL_FSYNC_ONCE");
  if (once && *once == '1' && g_failed_once.exchange(true)) return false;
  log_line("", path, n);
  if (tracked) g_failed_fd[fd] = true;
  return true;
}

template <typename Fn>
Fn next(const char* name) {
  return reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" int fsync(int fd) {
  static auto real = next<int (*)(int)>("fsync");
  if (should_fail(fd)) {
    errno = EIO;
    return -1;
  }
  return real(fd);
}

extern "C" int fdatasync(int fd) {
  static auto real = next<int (*)(int)>("fdatasync");
  if (should_fail(fd)) {
    errno = EIO;
    return -1;
  }
  return real(fd);
}

// A closed descriptor's number is reused by the next open: it starts clean.
extern "C" int close(int fd) {
  static auto real = next<int (*)(int)>("close");
  if (fd >= 0 && fd < kMaxFd) g_failed_fd[fd] = false;
  return real(fd);
}
