// The daemon's control socket (locker's model): a unix stream socket, mode
// 0600, one JSON request per line and one JSON answer per line. A peer whose
// uid is neither root nor the daemon's own is answered with a refusal and
// closed (SO_PEERCRED), whatever the file mode lets through.
//
// One daemon per socket: beside it, "<socket>.pid" holds the daemon's PID
// under an flock for as long as it runs. A socket file whose PID file is not
// locked is stale (its daemon was killed) and is replaced, never "address in
// use".
//
// Also here: the client side every `cellar daemon` verb uses.
// Not here: what a request does (daemon.cpp, lock_service.cpp).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/json.h"
#include "common/status.h"

namespace cellar::daemon {

// The PID file and the listening socket, owned by the running daemon.
class ControlSocket {
 public:
  // Locks "<path>.pid" (busy: ErrorCode::busy naming the running daemon's
  // PID), removes a stale socket file, binds `path` with mode 0600 and
  // listens. Usage error for a path too long for a unix socket.
  static Result<ControlSocket> open(const std::string& path);
  ControlSocket(ControlSocket&&) = default;
  ControlSocket& operator=(ControlSocket&&) = default;
  ~ControlSocket();  // removes the socket file (the PID file stays; its lock goes)

  int fd() const { return listen_.get(); }
  const std::string& path() const { return path_; }

 private:
  ControlSocket() = default;
  std::string path_;
  UniqueFd pid_file_;
  UniqueFd listen_;
};

// An accepted connection: its peer's uid and what it sent so far.
struct Peer {
  UniqueFd fd;
  uid_t uid = 0;
  pid_t pid = 0;
  std::string input;  // bytes read, up to the next '\n'
  bool allowed() const;
};

// Accepts one connection (non-blocking, close-on-exec) with its credentials.
Result<Peer> accept_peer(int listen_fd);
// Sends one answer line; false when the peer is gone (it never blocks: an
// answer that does not fit the socket buffer at once is dropped with it).
bool send_line(int fd, const Json& answer);

// The PID a daemon wrote into "<socket>.pid" while it holds its lock; none
// when no daemon runs.
std::optional<pid_t> running_daemon_pid(const std::string& socket_path);

// Client side: connects, sends `request`, returns the answer object. No
// daemon listening: ErrorCode::failed whose message starts with "no cellar
// daemon answers" (not_running() tells). `timeout` bounds the whole exchange.
Result<Json> ask(const std::string& socket_path, const Json& request, std::optional<std::chrono::milliseconds> timeout);
bool not_running(const Status& status);

}  // namespace cellar::daemon
