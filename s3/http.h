// HTTP/1.1 exchanges for the S3 driver: the one adapter of libcurl. It
// sends one request as given (method, URL, headers, body in memory) and
// gives back the whole response, or says why none arrived and whether
// another attempt may help. Easy handles are kept in a pool, so their
// connections are reused by later requests; any number of threads may
// perform at once, each on its own handle.
//
// What it does not own: signing, retries, S3 error bodies (s3/client.h).
// libcurl's errors stop here as text; nothing else includes curl.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "s3/sigv4.h"

namespace cellar::s3 {

struct HttpSettings {
  std::string ca_file;  // "" = the system's CA bundle
  bool verify_tls = true;
  std::chrono::seconds connect_timeout{10};
  std::chrono::seconds stall_timeout{30};  // no byte moved for this long: the exchange fails
};

struct HttpRequest {
  std::string method;  // GET, HEAD, PUT, POST, DELETE
  std::string url;
  Pairs headers;          // sent as given
  std::string_view body;  // sent with PUT and POST (Content-Length always set)
};

struct HttpResponse {
  long status = 0;
  Pairs headers;  // names lowercase, values trimmed
  std::string body;
  unsigned attempts = 1;  // filled by the retrying caller (s3/client.h)
  // The value of header `name` (lowercase), "" when absent.
  std::string header(std::string_view name) const;
};

struct HttpOutcome {
  std::optional<HttpResponse> response;  // nothing when the exchange failed
  std::string failure;                   // why, when it failed
  bool retryable = false;                // the failure may pass (reset, refused, stall, short body)
};

class Http {
 public:
  explicit Http(HttpSettings settings);
  ~Http();
  Http(const Http&) = delete;
  Http& operator=(const Http&) = delete;

  // A body shorter than its Content-Length is a retryable failure, never a
  // response.
  HttpOutcome perform(const HttpRequest& request);

 private:
  struct Pool;
  HttpSettings settings_;
  std::unique_ptr<Pool> pool_;
};

// Seconds since the epoch of an HTTP date ("Wed, 12 Oct 2009 17:50:00 GMT").
std::optional<int64_t> parse_http_date(const std::string& text);

}  // namespace cellar::s3
