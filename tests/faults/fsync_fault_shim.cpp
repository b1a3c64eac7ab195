// An LD_PRELOAD shim for the fault matrix (docs/reliability.md): fsync and
// fdatasync of a file whose path contains $CELLAR_FAIL_FSYNC fail with EIO
// — the disk that loses a write, at the OS edge. With
// $CELLAR_FAIL_FSYNC_ONCE=1 only the first such call fails and the next
// ones succeed, as the page cache would let a retried fsync "succeed" after
// dropping the dirty pages (PostgreSQL's fsyncgate): a program that retries
// and calls that good is caught. Each failure is written to
// $CELLAR_FAIL_FSYNC_LOG (one "path\n" line), when set.
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace {

std::atomic<bool> g_failed_once{false};

bool should_fail(int fd) {
  const char* needle = std::getenv("CELLAR_FAIL_FSYNC");
  if (!needle || !*needle) return false;
  char link[64], path[4096];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = ::readlink(link, path, sizeof path - 1);
  if (n <= 0) return false;
  path[n] = '\0';
  if (!std::strstr(path, needle)) return false;
  const char* once = std::getenv("CELLAR_FAIL_FSYNC_ONCE");
  if (once && *once == '1' && g_failed_once.exchange(true)) return false;
  if (const char* log = std::getenv("CELLAR_FAIL_FSYNC_LOG"); log && *log) {
    int out = ::open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (out >= 0) {
      path[n] = '\n';
      (void)!::write(out, path, static_cast<size_t>(n) + 1);
      ::close(out);
    }
  }
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
