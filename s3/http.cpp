#include "s3/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <vector>

namespace cellar::s3 {
namespace {

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Failures of the transport that a later attempt may not meet again.
bool transient(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_WEIRD_SERVER_REPLY:
      return true;
    default:
      return false;
  }
}

std::string trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return std::string(text);
}

// What one exchange reads and writes through libcurl's callbacks.
struct Exchange {
  std::string_view body;  // request body
  size_t sent = 0;
  HttpResponse response;
};

size_t read_body(char* buf, size_t size, size_t n, void* user) {
  auto* x = static_cast<Exchange*>(user);
  const size_t len = std::min(size * n, x->body.size() - x->sent);
  std::memcpy(buf, x->body.data() + x->sent, len);
  x->sent += len;
  return len;
}

// libcurl rewinds the body when it must send it again on a new connection.
int seek_body(void* user, curl_off_t offset, int origin) {
  auto* x = static_cast<Exchange*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<size_t>(offset) > x->body.size()) return CURL_SEEKFUNC_FAIL;
  x->sent = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

size_t write_body(char* data, size_t size, size_t n, void* user) {
  static_cast<Exchange*>(user)->response.body.append(data, size * n);
  return size * n;
}

// One header line; a status line starts a new response (after a 100 Continue).
size_t read_header(char* data, size_t size, size_t n, void* user) {
  auto* x = static_cast<Exchange*>(user);
  const std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    x->response.headers.clear();
    return size * n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name = trim(line.substr(0, colon));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  x->response.headers.emplace_back(std::move(name), trim(line.substr(colon + 1)));
  return size * n;
}

void set_method(CURL* h, const HttpRequest& request, Exchange& x) {
  if (request.method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT" || request.method == "POST") {
    // Both as an upload of a known length, so the body is never copied and
    // Content-Length is always sent (also 0).
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_body);
    curl_easy_setopt(h, CURLOPT_READDATA, &x);
    curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_body);
    curl_easy_setopt(h, CURLOPT_SEEKDATA, &x);
    if (request.method == "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "POST");
  } else {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
}

void set_exchange(CURL* h, const HttpRequest& request, curl_slist* headers, char* error, Exchange& x) {
  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, read_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
  set_method(h, request, x);
}

void set_transport(CURL* h, const HttpSettings& settings) {
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(settings.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, std::max<long>(1, static_cast<long>(settings.stall_timeout.count())));
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, settings.verify_tls ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, settings.verify_tls ? 2L : 0L);
  if (!settings.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, settings.ca_file.c_str());
}

// A Content-Length the body does not reach means the connection broke
// mid-body; libcurl does not always notice (a close right at a chunk edge).
bool body_complete(const HttpRequest& request, const HttpResponse& response) {
  if (request.method == "HEAD" || response.status == 204 || response.status == 304) return true;
  const std::string length = response.header("content-length");
  return length.empty() || length == std::to_string(response.body.size());
}

}  // namespace

struct Http::Pool {
  std::mutex mutex;
  std::vector<CURL*> idle;

  CURL* acquire() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!idle.empty()) {
        CURL* h = idle.back();
        idle.pop_back();
        return h;
      }
    }
    return curl_easy_init();
  }
  // curl_easy_reset keeps the handle's live connections for the next request.
  void release(CURL* h) {
    curl_easy_reset(h);
    std::lock_guard<std::mutex> lock(mutex);
    idle.push_back(h);
  }
  ~Pool() {
    for (CURL* h : idle) curl_easy_cleanup(h);
  }
};

Http::Http(HttpSettings settings) : settings_(std::move(settings)), pool_(std::make_unique<Pool>()) {
  init_curl_once();
}

Http::~Http() = default;

HttpOutcome Http::perform(const HttpRequest& request) {
  CURL* h = pool_->acquire();
  if (h == nullptr) return {std::nullopt, "could not create a libcurl handle", false};
  Exchange x;
  x.body = request.body;
  char error[CURL_ERROR_SIZE] = "";
  curl_slist* headers = curl_slist_append(nullptr, "Expect:");  // no 100-continue round trip
  for (const auto& [name, value] : request.headers) headers = curl_slist_append(headers, (name + ": " + value).c_str());
  set_exchange(h, request, headers, error, x);
  set_transport(h, settings_);
  const CURLcode code = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x.response.status);
  pool_->release(h);
  curl_slist_free_all(headers);
  if (code != CURLE_OK) return {std::nullopt, error[0] != '\0' ? error : curl_easy_strerror(code), transient(code)};
  if (!body_complete(request, x.response))
    return {
        std::nullopt,
        "short body: " + std::to_string(x.response.body.size()) + " bytes of " + x.response.header("content-length"),
        true};
  return {std::move(x.response), "", false};
}

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (n == name) return v;
  return "";
}

std::optional<int64_t> parse_http_date(const std::string& text) {
  const time_t t = curl_getdate(text.c_str(), nullptr);
  if (t < 0) return std::nullopt;
  return static_cast<int64_t>(t);
}

}  // namespace cellar::s3
