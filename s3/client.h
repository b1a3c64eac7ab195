// One S3 request with everything around it: the URL (path-style or
// virtual-hosted), the SigV4 signature, Content-MD5 and the payload hash,
// retries of transient failures with exponential backoff and full jitter,
// and the one-line error message of a failure.
//
// Payload hash: over https the body is sent as UNSIGNED-PAYLOAD. TLS
// already protects it in transit, Content-MD5 (signed, and checked by the
// server) catches corruption end to end, and not hashing saves a SHA-256
// pass over every byte uploaded. Over plain http nothing but the signature
// protects the body from being altered on the way, so the real SHA-256 is
// signed. Either way the header is signed (Swift refuses requests without
// it).
//
// What it does not own: what the requests mean (s3_storage.cpp and friends).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "s3/http.h"
#include "s3/s3_storage.h"
#include "s3/sigv4.h"

namespace cellar::s3 {

struct Call {
  Call(std::string method_, std::string key_, std::string what_, Pairs query_ = {}, std::string_view body_ = {})
      : method(std::move(method_)),
        key(std::move(key_)),
        query(std::move(query_)),
        body(body_),
        what(std::move(what_)) {}

  std::string method;
  std::string key;  // the object key; "" for a request on the bucket itself
  Pairs query;      // raw names and values ("uploads", "") ...
  Pairs headers;    // extra headers, all signed (Range, If-Match, x-amz-storage-class, ...)
  std::string_view body;
  // The message's start, "could not upload", and what it names (default
  // s3://bucket/key).
  std::string what;
  std::string name;
  // Statuses besides 2xx that are answers, not errors (404 for a DELETE).
  std::vector<long> also_ok;
  // Looks at an accepted response: "" when it is good, else why not; the
  // attempt then counts as a transient failure (a short ranged body, an
  // <Error> inside a 200).
  std::function<std::string(const HttpResponse&)> check;
};

class Client {
 public:
  explicit Client(Options options);

  const Options& options() const { return options_; }

  // Sends `call`, retrying transient failures `options().retries` times.
  // The response of the first accepted attempt, with `attempts` set; or
  // ErrorCode::failed with "<what> "<name>": HTTP <status> <Code>: <Message>
  // (<METHOD>[, <n> attempts])".
  Result<HttpResponse> call(const Call& call) const;

  // The error of an accepted response the caller still counts as a failure
  // (a 404 it allowed for), worded as call() words its own.
  Status fail(const Call& call, const HttpResponse& response) const;

  // "<prefix>/<path>" (or `path` when there is no prefix); "" maps to the prefix.
  std::string key_of(const std::string& path) const;
  // "s3://bucket/key".
  std::string url_of(const std::string& key) const;

 private:
  struct Endpoint {
    std::string scheme;     // "http" or "https"
    std::string authority;  // "host[:port]" as in the URL
  };
  HttpRequest signed_request(const Call& call) const;
  std::string failure(const Call& call, const std::string& reason, unsigned attempts) const;

  Options options_;
  Endpoint endpoint_;
  std::unique_ptr<Http> http_;
};

}  // namespace cellar::s3
