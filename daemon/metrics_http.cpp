#include "daemon/metrics_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>

#include <cstring>

namespace cellar::daemon {

struct MetricsServer::Impl {
  std::function<std::string()> render;
  MHD_Daemon* mhd = nullptr;
};

namespace {

MHD_Result respond(MHD_Connection* connection, unsigned status, const std::string& body, const char* type) {
  MHD_Response* r = MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, "Content-Type", type);
  MHD_Result result = MHD_queue_response(connection, status, r);
  MHD_destroy_response(r);
  return result;
}

MHD_Result on_request(void* cls, MHD_Connection* connection, const char* url, const char* method, const char*,
                      const char*, size_t*, void**) {
  auto* impl = static_cast<MetricsServer::Impl*>(cls);
  if (std::strcmp(method, "GET") != 0 && std::strcmp(method, "HEAD") != 0)
    return respond(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET /metrics\n", "text/plain");
  if (std::strcmp(url, "/metrics") != 0) return respond(connection, MHD_HTTP_NOT_FOUND, "see /metrics\n", "text/plain");
  std::string body;
  try {
    body = impl->render();
  } catch (const std::exception& e) {
    return respond(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, std::string("could not collect: ") + e.what() + "\n",
                   "text/plain");
  }
  return respond(connection, MHD_HTTP_OK, body, "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& listen,
                                                            std::function<std::string()> render) {
  size_t colon = listen.rfind(':');
  sockaddr_in address{};
  address.sin_family = AF_INET;
  if (colon == std::string::npos || ::inet_pton(AF_INET, listen.substr(0, colon).c_str(), &address.sin_addr) != 1)
    return Status::usage("daemon_metrics_listen \"" + listen + "\" is not ADDRESS:PORT");
  uint16_t port = static_cast<uint16_t>(std::stoi(listen.substr(colon + 1)));
  address.sin_port = htons(port);
  std::unique_ptr<MetricsServer> server(new MetricsServer);
  server->impl_ = std::make_unique<Impl>();
  server->impl_->render = std::move(render);
  // The server's thread inherits this mask: no signal of ours lands there.
  sigset_t all, previous;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &previous);
  server->impl_->mhd =
      MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, port, nullptr, nullptr, &on_request, server->impl_.get(),
                       MHD_OPTION_SOCK_ADDR, &address, MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
  int err = errno;
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (!server->impl_->mhd)
    return Status::from_errno("could not serve metrics on " + listen, err)
        .with_hint("is the port in use? set daemon_metrics_listen to another port, or \"off\"");
  return server;
}

MetricsServer::~MetricsServer() {
  if (impl_ && impl_->mhd) MHD_stop_daemon(impl_->mhd);
}

}  // namespace cellar::daemon
