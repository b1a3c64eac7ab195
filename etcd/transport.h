// HTTP/1.1 POSTs of JSON to etcd's v3 gateway: the etcd room's one adapter of
// libcurl (s3/http.h is the S3 driver's; the rooms do not share one). It
// sends one body to one URL and gives back the status and body, or says why
// no answer came. Easy handles are pooled, so connections are reused; any
// number of threads may post at once, each on its own handle.
//
// What it does not own: endpoints and failover, authentication, the JSON
// (etcd/client.h). libcurl's errors stop here as text; nothing else in the
// tree includes curl.h for etcd.
#pragma once

#include <chrono>
#include <memory>
#include <string>

namespace cellar::etcd {

struct TransportSettings {
  std::string ca_file;    // "" = the system's CA bundle
  std::string cert_file;  // client certificate (TLS client auth), "" = none
  std::string key_file;   // its private key
};

struct PostOutcome {
  bool answered = false;  // false: no HTTP answer (refused, reset, timeout, TLS)
  long status = 0;        // HTTP status when answered
  std::string body;
  std::string failure;  // why there was no answer, e.g. "Connection refused"
};

class Transport {
 public:
  explicit Transport(TransportSettings settings);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // POSTs `body` (JSON) to `url`, with an "Authorization" header when `token`
  // is not "". Gives up after `timeout`, connecting included.
  PostOutcome post(const std::string& url, const std::string& body, const std::string& token,
                   std::chrono::milliseconds timeout);

 private:
  struct Pool;
  TransportSettings settings_;
  std::unique_ptr<Pool> pool_;
};

}  // namespace cellar::etcd
