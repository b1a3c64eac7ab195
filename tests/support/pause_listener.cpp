#include "support/pause_listener.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace cellar::test {
namespace {

// One line from `fd`; nothing if a wait for the next byte exceeds `timeout_ms`.
std::optional<std::string> read_line(int fd, int timeout_ms) {
  std::string line;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::nullopt;
    char c = 0;
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    if (c == '\n') return line;
    line += c;
  }
}

}  // namespace

PauseListener::PauseListener(std::string point) : point_(std::move(point)), path_(dir_ / "pause.sock") {
  sockaddr_un addr{};
  if (path_.size() >= sizeof addr.sun_path) throw std::runtime_error("pause socket path too long: " + path_);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  listen_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listen_.valid() || ::bind(listen_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_.get(), 4) != 0)
    throw std::runtime_error("could not listen on " + path_ + ": " + std::strerror(errno));
}

std::string PauseListener::env() const { return "CELLAR_PAUSE_AT=" + point_ + ":" + path_; }

std::optional<pid_t> PauseListener::wait_reached(double seconds) {
  int timeout_ms = static_cast<int>(seconds * 1000);
  pollfd p{listen_.get(), POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) != 1) return std::nullopt;
  conn_ = UniqueFd(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn_.valid()) return std::nullopt;
  auto line = read_line(conn_.get(), timeout_ms);
  std::string prefix = point_ + " ";
  if (!line || line->rfind(prefix, 0) != 0) return std::nullopt;
  return static_cast<pid_t>(std::stol(line->substr(prefix.size())));
}

void PauseListener::release() {
  if (conn_.valid()) (void)!::send(conn_.get(), "go\n", 3, MSG_NOSIGNAL);  // the paused one may be gone
  conn_.reset();
}

}  // namespace cellar::test
