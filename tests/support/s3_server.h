// A real S3 server for tests (STYLE.md: a real server, not a mock):
// OpenStack Swift with its S3 API (the s3api and tempauth middlewares), from
// Debian's swift-proxy, swift-account, swift-container and swift-object
// packages, on 127.0.0.1.
//
// What it owns: the Swift processes, their configuration, rings and data
// directory, and the buckets tests ask for. What it does not: anything of
// cellar's beyond s3::Options (tests drive the s3 driver themselves).
//
// How a server is made:
// - Everything lives in /tmp/cellar-s3-run-XXXXXX/ (0755, ours):
//     owner   "<pid> <starttime>" of the test process that owns it
//     etc/    swift.conf, the four server configurations, the three rings
//             (one device each, one replica), the TLS certificate and key
//     node/   the device directory (sdb1), owned by `swift`
//     cache/  owned by `swift`
//     log/    what each server wrote to stdout/stderr before it detached
//             its logging (Swift logs to syslog after that)
// - Four free TCP ports on 127.0.0.1: the proxy, the account, container and
//   object servers. Each server runs with one worker, in its own session,
//   and drops privileges to the `swift` account when started as root.
// - The proxy's pipeline has s3api + tempauth (user test:tester, secret
//   testing, region us-east-1; path-style URLs, or virtual-hosted ones on
//   "http://localhost:PORT", i.e. BUCKET.localhost) and slo, which
//   multipart uploads need.
// - tls_endpoint() starts, on first use, a second proxy on the same store
//   that speaks https with a self-signed certificate for 127.0.0.1 (made with
//   the openssl command); ca_file() verifies it.
//
// Lifetime: an S3Server stops its processes (SIGTERM to each session, then
// SIGKILL) and removes its directory when destroyed. shared_s3() is one
// server per test process, started on first use (about 5-15 s) and stopped
// at exit (atexit and a Catch2 listener). Servers left by a killed test run
// are stopped and removed by the next start().
//
// Failures throw std::runtime_error naming what did not work and the log
// directory, so the Catch2 test that asked for the server fails with it.
#pragma once

#include <memory>
#include <string>

#include "s3/s3_storage.h"

namespace cellar::test {

class S3Server {
 public:
  // Starts the four servers and waits until each answers. Throws on failure.
  static std::unique_ptr<S3Server> start();

  ~S3Server();
  S3Server(const S3Server&) = delete;
  S3Server& operator=(const S3Server&) = delete;

  std::string endpoint() const;  // "http://127.0.0.1:PORT"
  int port() const { return proxy_port_; }
  // "https://127.0.0.1:PORT", a proxy started on the first call. Throws on failure.
  std::string tls_endpoint();
  std::string ca_file() const;  // the certificate of the https proxy
  const std::string& base_dir() const { return base_; }

  // Options for `bucket` on this server: path style, the tempauth test
  // account, key prefix "repo", 5 MiB parts, short retry waits.
  s3::Options options(const std::string& bucket) const;
  // Creates a bucket no other test of this process uses and returns its name.
  std::string create_bucket();

 private:
  S3Server() = default;
  void write_configs();
  void launch(const std::string& name, const std::string& server, const std::string& conf);
  void stop_all();

  std::string base_;
  int proxy_port_ = 0;
  int tls_port_ = 0;
  int backend_ports_[3] = {0, 0, 0};  // account, container, object
  bool tls_started_ = false;
};

// One server per test process, started on first use and stopped at exit.
S3Server& shared_s3();

// A fresh bucket on the shared server and the options to use it.
s3::Options test_s3_options();

}  // namespace cellar::test
