#include "common/pause_point.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/fs.h"
#include "common/log.h"

namespace cellar::detail {
namespace {

const char* spec() {
  static const char* const value = std::getenv("CELLAR_PAUSE_AT");
  return value;
}

Result<UniqueFd> connect_to(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) return Status::failed("socket path \"" + path + "\" is too long");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::from_errno("could not create a socket", errno);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    return Status::from_errno("could not connect to \"" + path + "\"", errno);
  return fd;
}

// Blocks until the peer sends a whole line or closes the connection.
void wait_for_release(int fd) {
  char c = 0;
  for (;;) {
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || c == '\n') return;
  }
}

}  // namespace

bool pause_points_enabled() { return spec() != nullptr; }

void pause_here(std::string_view name) {
  std::string_view s = spec();
  size_t colon = s.find(':');
  if (colon == std::string_view::npos || s.substr(0, colon) != name) return;
  // A point inside a loop or reached by several threads pauses once.
  static std::atomic<bool> fired{false};
  if (fired.exchange(true)) return;
  auto fd = connect_to(std::string(s.substr(colon + 1)));
  if (!fd) {
    log::warning("pause point " + std::string(name) + ": " + fd.status().message());
    return;
  }
  if (Status st = write_all(fd->get(), std::string(name) + " " + std::to_string(::getpid()) + "\n", "pause socket");
      !st) {
    log::warning("pause point " + std::string(name) + ": " + st.message());
    return;
  }
  wait_for_release(fd->get());
}

}  // namespace cellar::detail
