#include "daemon/control_socket.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "config/layout.h"

namespace cellar::daemon {
namespace {

Result<sockaddr_un> address_of(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path)
    return Status::usage("daemon socket path \"" + path + "\" is too long for a unix socket (" +
                             std::to_string(sizeof a.sun_path - 1) + " bytes at most)",
                         "set daemon_socket to a shorter path");
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

std::optional<pid_t> pid_in(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return std::nullopt;
  long pid = std::strtol(buf, nullptr, 10);
  if (pid <= 0) return std::nullopt;
  return static_cast<pid_t>(pid);
}

}  // namespace

Result<ControlSocket> ControlSocket::open(const std::string& path) {
  auto address = address_of(path);
  if (!address) return address.status();
  ControlSocket s;
  s.path_ = path;
  const std::string pid_path = layout::daemon_pid_file(path);
  s.pid_file_ = UniqueFd(::open(pid_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!s.pid_file_.valid()) return Status::from_errno("could not open \"" + pid_path + "\"", errno);
  // A client probing whether a daemon runs holds a shared lock for an
  // instant: retry for a second before calling the file busy.
  int locked = -1;
  for (int attempt = 0; attempt < 50; ++attempt) {
    locked = ::flock(s.pid_file_.get(), LOCK_EX | LOCK_NB);
    if (locked == 0 || errno != EWOULDBLOCK) break;
    ::usleep(20000);
  }
  if (locked != 0) {
    if (errno != EWOULDBLOCK) return Status::from_errno("could not lock \"" + pid_path + "\"", errno);
    auto pid = pid_in(s.pid_file_.get());
    return Status::busy("a cellar daemon is already running" + (pid ? " (PID " + std::to_string(*pid) + ")" : ""),
                        "stop it with 'cellar daemon stop', or ask it with 'cellar daemon status'");
  }
  std::string pid_text = std::to_string(::getpid()) + "\n";
  if (::ftruncate(s.pid_file_.get(), 0) != 0 ||
      ::pwrite(s.pid_file_.get(), pid_text.data(), pid_text.size(), 0) != static_cast<ssize_t>(pid_text.size()))
    return Status::from_errno("could not write \"" + pid_path + "\"", errno);
  // We hold the PID file's lock: a socket file there is a killed daemon's.
  // Anything else there is not ours to remove.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return Status::failed("\"" + path + "\" exists and is not a socket", "set daemon_socket to another path");
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return Status::from_errno("could not remove the stale socket \"" + path + "\"", errno);
  }
  s.listen_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s.listen_.valid()) return Status::from_errno("could not create a unix socket", errno);
  // Mode 0600 from the start: no window in which others could connect.
  mode_t old_mask = ::umask(0177);
  int bound = ::bind(s.listen_.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof *address);
  int bind_errno = errno;
  ::umask(old_mask);
  if (bound != 0) return Status::from_errno("could not bind the daemon socket \"" + path + "\"", bind_errno);
  if (::listen(s.listen_.get(), 64) != 0) return Status::from_errno("could not listen on \"" + path + "\"", errno);
  return s;
}

ControlSocket::~ControlSocket() {
  if (listen_.valid()) ::unlink(path_.c_str());
}

bool Peer::allowed() const { return uid == 0 || uid == ::geteuid(); }

Result<Peer> accept_peer(int listen_fd) {
  Peer p;
  p.fd = UniqueFd(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!p.fd.valid()) return Status::from_errno("could not accept a connection", errno);
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(p.fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return Status::from_errno("could not read the peer's credentials", errno);
  p.uid = cred.uid;
  p.pid = cred.pid;
  return p;
}

bool send_line(int fd, const Json& answer) {
  std::string line = answer.dump(-1) + "\n";
  ssize_t n = ::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  return n == static_cast<ssize_t>(line.size());
}

std::optional<pid_t> running_daemon_pid(const std::string& socket_path) {
  UniqueFd fd(::open(layout::daemon_pid_file(socket_path).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  if (::flock(fd.get(), LOCK_SH | LOCK_NB) == 0) return std::nullopt;  // nobody holds it
  return pid_in(fd.get());
}

bool not_running(const Status& status) { return status.message().starts_with("no cellar daemon answers"); }

Result<Json> ask(const std::string& socket_path, const Json& request,
                 std::optional<std::chrono::milliseconds> timeout) {
  auto address = address_of(socket_path);
  if (!address) return address.status();
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::from_errno("could not create a unix socket", errno);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof *address) != 0) {
    int err = errno;
    if (err == ENOENT || err == ECONNREFUSED)
      return Status::failed("no cellar daemon answers on \"" + socket_path + "\"",
                            "start it with 'cellar daemon start' (or 'cellar daemon fg')");
    return Status::from_errno("could not connect to the daemon socket \"" + socket_path + "\"", err);
  }
  std::string line = request.dump(-1) + "\n";
  // A daemon that refuses the peer answers and closes at once, maybe before
  // the request is sent: its answer is still there to read after EPIPE.
  bool sent = ::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size());
  int send_err = sent ? 0 : errno;
  if (!sent && send_err != EPIPE && send_err != ECONNRESET)
    return Status::from_errno("could not send to the daemon", send_err);
  auto deadline = timeout ? std::optional(std::chrono::steady_clock::now() + *timeout) : std::nullopt;
  std::string answer;
  for (;;) {
    int wait_ms = -1;
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return Status::failed("the daemon did not answer in time");
      wait_ms = static_cast<int>(left.count());
    }
    pollfd p{fd.get(), POLLIN, 0};
    int ready = ::poll(&p, 1, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return Status::from_errno("could not wait for the daemon's answer", errno);
    if (ready == 0) continue;
    char buf[4096];
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 && !sent) return Status::from_errno("could not send to the daemon", send_err);
    if (n < 0) return Status::from_errno("could not read the daemon's answer", errno);
    if (n == 0) return Status::failed("the daemon closed the connection without an answer");
    answer.append(buf, static_cast<size_t>(n));
    if (size_t nl = answer.find('\n'); nl != std::string::npos) {
      auto parsed = Json::parse(answer.substr(0, nl));
      if (!parsed) return Status::failed("the daemon's answer is not JSON: " + parsed.status().message());
      if (!parsed->is_object()) return Status::failed("the daemon's answer is not a JSON object");
      return parsed;
    }
  }
}

}  // namespace cellar::daemon
