// A real etcd for tests (STYLE.md: a real server, not a mock): Debian's
// etcd-server (3.4), one member on 127.0.0.1, over plain HTTP.
//
// What it owns: the etcd process (its own session, killed with the test
// process through PR_SET_PDEATHSIG), its data directory and log under
// /tmp/cellar-etcd-XXXXXX/, two free ports (client and peer), and, when
// asked, its users (authentication on). What it does not: anything of
// cellar's beyond etcd::ClientOptions.
//
// With Transport::tls the client URL is https, with a self-signed
// certificate for 127.0.0.1 (made with the openssl command) that etcd also
// requires of its clients (--client-cert-auth): the one file serves as CA,
// server and client certificate.
//
// Lifetime: an EtcdServer stops etcd (SIGTERM, SIGKILL after 5 s) and
// removes its directory when destroyed. shared_etcd() is one server per test
// process, started on first use (about 1-3 s), stopped at exit; tests on it
// keep apart by fresh_prefix(). A test that changes the server (auth) starts
// its own with EtcdServer::start(). Directories left by a killed run are
// removed by the next start().
//
// Failures throw std::runtime_error naming what did not work and the log,
// so the Catch2 test that asked for the server fails with it.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "etcd/client.h"
#include "support/run.h"

namespace cellar::test {

class EtcdServer {
 public:
  enum class Transport { plain, tls };
  // Starts etcd and waits until it answers. Throws on failure.
  static std::unique_ptr<EtcdServer> start(Transport transport = Transport::plain);

  ~EtcdServer();
  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;

  std::string endpoint() const;  // "http://127.0.0.1:PORT" ("https://..." with TLS)
  int port() const { return client_port_; }
  pid_t pid() const { return pid_; }
  const std::string& base_dir() const { return base_; }

  // A key prefix ("/cellar-test/<pid>-<n>/") no other test of this process uses.
  std::string fresh_prefix();
  // Client options for this server: its endpoint, a 2 s request timeout,
  // and with TLS the certificate as CA and client certificate.
  etcd::ClientOptions client_options() const;
  std::string cert_file() const;  // with TLS: the certificate (CA, server and client)
  std::string key_file() const;   // its key

  // etcdctl against this server (as root once auth is on).
  RunResult etcdctl(const std::vector<std::string>& args) const;
  // Turns authentication on: a root user, and `user` with `password` and
  // read/write access to every key. Throws on failure.
  void enable_auth(const std::string& user, const std::string& password);
  // Sets `user`'s password, which also invalidates every token etcd gave
  // out for that user. Throws on failure.
  void set_password(const std::string& user, const std::string& password);

 private:
  EtcdServer() = default;
  void wait_until_answering() const;

  std::string base_;
  int client_port_ = 0;
  int peer_port_ = 0;
  pid_t pid_ = -1;
  bool tls_ = false;
  bool auth_ = false;
};

// One server per test process, started on first use and stopped at exit.
EtcdServer& shared_etcd();

// A TCP port on 127.0.0.1 that nothing listens on (bound, then closed).
int unused_port();

}  // namespace cellar::test
