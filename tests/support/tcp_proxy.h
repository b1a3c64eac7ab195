// A TCP-to-unix-socket proxy for network-cut tests: it listens on 127.0.0.1
// (ephemeral port) and relays every connection byte for byte to a unix socket
// (PostgreSQL's .s.PGSQL.<port>), until told to drop everything.
//
// What it owns: the listening socket, one thread per connection and the
// connection's upstream socket. What it does not: any protocol.
//
// drop(true) is a network that loses every packet: bytes read from either
// side are thrown away, and a side that closes is closed quietly (its FIN is
// "lost" too: the other side is not told, and keeps its end until it gives
// up or writes to a relay whose peer is gone). New connections are accepted
// but get nothing through. drop(false) heals it: bytes flow again, on every
// connection still open.
#pragma once

#include <memory>
#include <string>

namespace cellar::test {

namespace detail {
struct TcpProxyState;
}

class TcpProxy {
 public:
  // Throws std::runtime_error if it cannot listen.
  explicit TcpProxy(std::string unix_socket);
  ~TcpProxy();  // closes every connection and joins every thread
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const;
  void drop(bool on);
  // Connections accepted so far.
  int accepted() const;

 private:
  std::shared_ptr<detail::TcpProxyState> state_;
};

}  // namespace cellar::test
