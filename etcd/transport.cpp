#include "etcd/transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

namespace cellar::etcd {
namespace {

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t write_body(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// The shortest true sentence: the system's word for a refused or reset
// connection ("Connection refused"), else libcurl's.
std::string failure_text(CURL* h, CURLcode code, const char* error, std::chrono::milliseconds timeout) {
  if (code == CURLE_OPERATION_TIMEDOUT) return "no answer within " + std::to_string(timeout.count()) + " ms";
  long os_errno = 0;
  curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
  if (os_errno != 0 && (code == CURLE_COULDNT_CONNECT || code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR))
    return std::strerror(static_cast<int>(os_errno));
  return error[0] != '\0' ? error : curl_easy_strerror(code);
}

void set_tls(CURL* h, const TransportSettings& settings) {
  if (!settings.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, settings.ca_file.c_str());
  if (!settings.cert_file.empty()) curl_easy_setopt(h, CURLOPT_SSLCERT, settings.cert_file.c_str());
  if (!settings.key_file.empty()) curl_easy_setopt(h, CURLOPT_SSLKEY, settings.key_file.c_str());
}

}  // namespace

struct Transport::Pool {
  std::mutex mutex;
  std::vector<CURL*> idle;

  CURL* take() {
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
  // curl_easy_reset keeps the handle's live connections for the next post.
  void give_back(CURL* h) {
    curl_easy_reset(h);
    std::lock_guard<std::mutex> lock(mutex);
    idle.push_back(h);
  }
  ~Pool() {
    for (CURL* h : idle) curl_easy_cleanup(h);
  }
};

Transport::Transport(TransportSettings settings) : settings_(std::move(settings)), pool_(std::make_unique<Pool>()) {
  init_curl_once();
}

Transport::~Transport() = default;

PostOutcome Transport::post(const std::string& url, const std::string& body, const std::string& token,
                            std::chrono::milliseconds timeout) {
  PostOutcome out;
  CURL* h = pool_->take();
  if (h == nullptr) {
    out.failure = "could not create a libcurl handle";
    return out;
  }
  // The token is a credential: it goes only into this header list, which is
  // freed below, never into a message.
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  if (!token.empty()) headers = curl_slist_append(headers, ("Authorization: " + token).c_str());
  char error[CURL_ERROR_SIZE] = "";
  const long ms = std::max<long>(1, static_cast<long>(timeout.count()));
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms);
  set_tls(h, settings_);
  const CURLcode code = curl_easy_perform(h);
  if (code == CURLE_OK) {
    out.answered = true;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out.status);
  } else {
    out.body.clear();
    out.failure = failure_text(h, code, error, timeout);
  }
  pool_->give_back(h);
  curl_slist_free_all(headers);
  return out;
}

}  // namespace cellar::etcd
