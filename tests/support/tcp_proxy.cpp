#include "support/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace cellar::test {
namespace detail {

struct TcpProxyState {
  std::string upstream;
  int listener = -1;
  int port = 0;
  std::atomic<bool> dropping{false};
  std::atomic<bool> stopping{false};
  std::atomic<int> accepted{0};
  std::mutex mu;
  std::vector<std::thread> threads;
};

}  // namespace detail

namespace {

using detail::TcpProxyState;

int connect_upstream(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool write_all(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Relays one connection until both sides are gone (or the proxy stops).
void relay(TcpProxyState& s, int client) {
  int fds[2] = {client, connect_upstream(s.upstream)};
  if (fds[1] < 0) {
    ::close(client);
    return;
  }
  char buf[65536];
  while (!s.stopping && (fds[0] >= 0 || fds[1] >= 0)) {
    pollfd p[2];
    for (int i = 0; i < 2; ++i) p[i] = {fds[i], POLLIN, 0};  // a negative fd is ignored by poll
    if (::poll(p, 2, 100) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::recv(fds[i], buf, sizeof buf, 0);
      int other = fds[1 - i];
      if (n <= 0) {
        ::close(fds[i]);
        fds[i] = -1;
        // A healthy network passes the close on; a cut one loses it.
        if (!s.dropping && other >= 0) {
          ::close(other);
          fds[1 - i] = -1;
        }
        continue;
      }
      if (s.dropping) continue;  // lost on the way
      if (other < 0 || !write_all(other, buf, static_cast<size_t>(n))) {
        ::close(fds[i]);
        fds[i] = -1;
      }
    }
  }
  for (int fd : fds)
    if (fd >= 0) ::close(fd);
}

}  // namespace

TcpProxy::TcpProxy(std::string unix_socket) : state_(std::make_shared<TcpProxyState>()) {
  state_->upstream = std::move(unix_socket);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error(std::string("tcp proxy: cannot listen on 127.0.0.1: ") + std::strerror(errno));
  }
  state_->listener = fd;
  state_->port = ntohs(addr.sin_port);
  std::shared_ptr<TcpProxyState> s = state_;
  std::lock_guard<std::mutex> g(s->mu);
  s->threads.emplace_back([s] {
    while (!s->stopping) {
      pollfd p{s->listener, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int client = ::accept4(s->listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      ++s->accepted;
      std::lock_guard<std::mutex> lock(s->mu);
      s->threads.emplace_back([s, client] { relay(*s, client); });
    }
  });
}

TcpProxy::~TcpProxy() {
  state_->stopping = true;
  for (;;) {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> g(state_->mu);
      threads.swap(state_->threads);
    }
    if (threads.empty()) break;
    for (auto& t : threads) t.join();
  }
  ::close(state_->listener);
}

int TcpProxy::port() const { return state_->port; }
void TcpProxy::drop(bool on) { state_->dropping = on; }
int TcpProxy::accepted() const { return state_->accepted; }

}  // namespace cellar::test
