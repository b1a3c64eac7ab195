#include "s3/client.h"

#include <algorithm>
#include <ctime>
#include <random>
#include <thread>

#include "common/crypto.h"
#include "common/log.h"
#include "s3/xml.h"

namespace cellar::s3 {
namespace {

const char* const kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

bool accepted(long status, const std::vector<long>& also_ok) {
  return (status >= 200 && status < 300) || std::find(also_ok.begin(), also_ok.end(), status) != also_ok.end();
}

// 5xx is the server's trouble (503 SlowDown, 500 InternalError). AWS also
// answers 400 RequestTimeout when the connection idled mid-request, which
// its SDKs retry.
bool transient_status(long status, const std::string& code) {
  return status >= 500 || (status == 400 && code == "RequestTimeout");
}

std::string http_reason(const HttpResponse& response, std::string* code) {
  std::string reason = "HTTP " + std::to_string(response.status);
  if (auto error = parse_error(response.body)) {
    *code = error->code;
    if (!error->code.empty()) reason += " " + error->code;
    if (!error->message.empty()) reason += ": " + error->message;
  }
  return reason;
}

// Full jitter: a random wait in [0, min(cap, base * 2^(attempt - 1))].
std::chrono::milliseconds backoff(const Options& options, unsigned attempt) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  const int64_t base = options.retry_base.count();
  const int64_t ceiling = std::min<int64_t>(options.retry_cap.count(), base << std::min(attempt - 1, 20u));
  if (ceiling <= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, ceiling)(random));
}

std::string strip_slashes(std::string text) {
  while (!text.empty() && text.back() == '/') text.pop_back();
  while (!text.empty() && text.front() == '/') text.erase(0, 1);
  return text;
}

}  // namespace

Client::Client(Options options) : options_(std::move(options)) {
  const std::string& url = options_.endpoint;
  const size_t sep = url.find("://");
  endpoint_.scheme = sep == std::string::npos ? "https" : url.substr(0, sep);
  std::string rest = sep == std::string::npos ? url : url.substr(sep + 3);
  endpoint_.authority = rest.substr(0, rest.find('/'));
  options_.prefix = strip_slashes(options_.prefix);
  http_ = std::make_unique<Http>(
      HttpSettings{options_.ca_file, options_.verify_tls, options_.connect_timeout, options_.stall_timeout});
}

std::string Client::key_of(const std::string& path) const {
  if (options_.prefix.empty()) return path;
  return path.empty() ? options_.prefix : options_.prefix + "/" + path;
}

std::string Client::url_of(const std::string& key) const { return "s3://" + options_.bucket + "/" + key; }

HttpRequest Client::signed_request(const Call& call) const {
  const bool has_body = call.method == "PUT" || call.method == "POST";
  std::string host = endpoint_.authority;
  std::string path = "/" + uri_encode(call.key, true);
  if (options_.path_style)
    path = "/" + options_.bucket + (call.key.empty() ? "" : path);
  else
    host = options_.bucket + "." + host;

  SigningRequest s{call.method, path, call.query, call.headers, kEmptySha256};
  if (!call.body.empty()) s.payload_hash = endpoint_.scheme == "https" ? "UNSIGNED-PAYLOAD" : sha256_hex(call.body);
  const std::string date = amz_date(std::time(nullptr));
  s.headers.emplace_back("Host", host);
  s.headers.emplace_back("x-amz-date", date);
  s.headers.emplace_back("x-amz-content-sha256", s.payload_hash);
  if (has_body) s.headers.emplace_back("Content-MD5", base64_encode(md5_raw(call.body)));
  if (!options_.credentials.session_token.empty())
    s.headers.emplace_back("x-amz-security-token", options_.credentials.session_token);

  HttpRequest request;
  request.method = call.method;
  request.url = endpoint_.scheme + "://" + host + path;
  if (!call.query.empty()) request.url += "?" + canonical_query(call.query);
  request.headers = s.headers;
  const SigningKey key{options_.credentials.key_id, options_.credentials.secret, options_.region};
  request.headers.emplace_back("Authorization", authorization(s, key, date));
  request.body = call.body;
  return request;
}

std::string Client::failure(const Call& call, const std::string& reason, unsigned attempts) const {
  const std::string name = call.name.empty() ? url_of(call.key) : call.name;
  std::string tail = call.method;
  if (attempts > 1) tail += ", " + std::to_string(attempts) + " attempts";
  return call.what + " \"" + name + "\": " + reason + " (" + tail + ")";
}

Status Client::fail(const Call& call, const HttpResponse& response) const {
  std::string code;
  return Status::failed(failure(call, http_reason(response, &code), response.attempts));
}

Result<HttpResponse> Client::call(const Call& call) const {
  const unsigned attempts = options_.retries + 1;
  for (unsigned attempt = 1;; ++attempt) {
    // Signed again each time: the date is part of the signature.
    HttpOutcome outcome = http_->perform(signed_request(call));
    std::string reason = outcome.failure;
    bool retry = outcome.retryable;
    if (outcome.response) {
      HttpResponse& response = *outcome.response;
      std::string code;
      if (accepted(response.status, call.also_ok)) {
        reason = call.check ? call.check(response) : "";
        if (reason.empty()) {
          response.attempts = attempt;
          return std::move(response);
        }
        retry = true;
      } else {
        reason = http_reason(response, &code);
        retry = transient_status(response.status, code);
      }
    }
    if (!retry || attempt >= attempts) return Status::failed(failure(call, reason, attempt));
    const auto wait = backoff(options_, attempt);
    log::debug("retrying " + call.method + " " + url_of(call.key) + " in " + std::to_string(wait.count()) +
               " ms after: " + reason);
    std::this_thread::sleep_for(wait);
  }
}

}  // namespace cellar::s3
