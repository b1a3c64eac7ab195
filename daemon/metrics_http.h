// The daemon's /metrics endpoint (daemon_metrics_listen): an HTTP server
// (libmicrohttpd, seen nowhere else) on ADDRESS:PORT that answers `GET
// /metrics` with the text `render` returns, in the Prometheus text format
// 0.0.4, and 404 for any other path. It runs in libmicrohttpd's own thread,
// with every signal blocked there.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/status.h"

namespace cellar::daemon {

class MetricsServer {
 public:
  // Listens on `listen` ("127.0.0.1:9187"). Failed (naming the address)
  // when it cannot bind.
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& listen, std::function<std::string()> render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  struct Impl;  // libmicrohttpd's side (metrics_http.cpp)

 private:
  MetricsServer() = default;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cellar::daemon
