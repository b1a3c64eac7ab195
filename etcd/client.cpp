#include "etcd/client.h"

#include <algorithm>
#include <cstdlib>

#include "common/crypto.h"
#include "etcd/transport.h"

namespace cellar::etcd {
namespace {

using Clock = std::chrono::steady_clock;

// gRPC status codes etcd puts in an error body's "code".
constexpr int64_t kUnavailable = 14;
constexpr int64_t kUnauthenticated = 16;

const char* const kHint = "check etcd_endpoints and that etcd is running there";

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// The gateway writes int64 fields as strings, and leaves zero values out.
int64_t int64_of(const Json* field) {
  if (field == nullptr) return 0;
  if (field->is_number()) return field->as_int();
  if (field->is_string()) return std::strtoll(field->as_string().c_str(), nullptr, 10);
  return 0;
}

int64_t int64_at(const Json& object, const std::string& name) { return int64_of(object.find(name)); }

Json text_of(int64_t n) { return Json(std::to_string(n)); }

std::string decoded(const Json* field) {
  if (field == nullptr || !field->is_string()) return "";
  auto raw = base64_decode(field->as_string());
  return raw ? *raw : "";
}

KeyValue key_value_of(const Json& kv) {
  return {decoded(kv.find("key")), decoded(kv.find("value")), int64_at(kv, "create_revision"),
          int64_at(kv, "mod_revision"), int64_at(kv, "lease")};
}

std::vector<KeyValue> kvs_of(const Json* range) {
  std::vector<KeyValue> out;
  const Json* kvs = range ? range->find("kvs") : nullptr;
  if (kvs == nullptr || !kvs->is_array()) return out;
  for (const Json& kv : kvs->as_array()) out.push_back(key_value_of(kv));
  return out;
}

int64_t header_revision(const Json& answer) {
  const Json* header = answer.find("header");
  return header ? int64_at(*header, "revision") : 0;
}

Json compare(const char* target, const char* field, const std::string& key, int64_t revision) {
  Json c = Json::object();
  c.set("target", target);
  c.set("key", base64_encode(key));
  c.set(field, text_of(revision));
  return c;
}

Json put_request(const std::string& key, const std::string& value, int64_t lease) {
  Json put = Json::object();
  put.set("key", base64_encode(key));
  put.set("value", base64_encode(value));
  if (lease != 0) put.set("lease", text_of(lease));
  Json op = Json::object();
  op.set("request_put", std::move(put));
  return op;
}

Json key_request(const char* kind, const std::string& key) {
  Json range = Json::object();
  range.set("key", base64_encode(key));
  Json op = Json::object();
  op.set(kind, std::move(range));
  return op;
}

Json txn(Json compare_one, Json success, std::optional<Json> failure) {
  Json t = Json::object();
  t.set("compare", Json::Array{std::move(compare_one)});
  t.set("success", Json::Array{std::move(success)});
  if (failure) t.set("failure", Json::Array{std::move(*failure)});
  return t;
}

bool succeeded(const Json& answer) {
  const Json* s = answer.find("succeeded");
  return s && s->is_bool() && s->as_bool();
}

// etcd's error body: {"error": ..., "message": ..., "code": N}.
struct EtcdError {
  int64_t code = 0;
  std::string message;
};

EtcdError error_of(const Json& body, long status) {
  EtcdError e;
  if (body.is_object()) {
    e.code = int64_at(body, "code");
    if (const Json* m = body.find("message"); m && m->is_string()) e.message = m->as_string();
  }
  if (e.message.empty()) e.message = "HTTP status " + std::to_string(status);
  return e;
}

}  // namespace

std::string prefix_end(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

Client::Client(ClientOptions options)
    : options_(std::move(options)),
      transport_(
          std::make_unique<Transport>(TransportSettings{options_.ca_file, options_.cert_file, options_.key_file})) {}

Client::~Client() = default;

std::string Client::endpoints_text() const {
  std::string out;
  for (const std::string& e : options_.endpoints) out += (out.empty() ? "" : ", ") + quoted(e);
  return out;
}

// One attempt at one endpoint. `unreachable` tells the caller to try the
// next endpoint; anything else is etcd's answer.
Result<Json> Client::call_at(size_t endpoint, const std::string& path, const std::string& body, const std::string& what,
                             Deadline deadline, bool& unreachable) {
  const std::string& url = options_.endpoints[endpoint];
  for (int attempt = 0;; ++attempt) {
    unreachable = false;
    std::string token;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      token = token_;
    }
    if (!options_.user.empty() && token.empty()) {
      if (Status st = authenticate(endpoint, deadline, unreachable); !st) return st;
      std::lock_guard<std::mutex> lock(mutex_);
      token = token_;
    }
    auto timeout = options_.request_timeout;
    if (deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
      if (left.count() <= 0) {
        unreachable = true;
        return Status::failed("no time left");
      }
      timeout = std::min(timeout, left);
    }
    PostOutcome out = transport_->post(url + path, body, token, timeout);
    if (!out.answered) {
      unreachable = true;
      return Status::failed(out.failure);
    }
    auto json = Json::parse(out.body);
    if (out.status == 200 && json) return std::move(json).value();
    const EtcdError e = error_of(json ? *json : Json(), out.status);
    if (e.code == kUnauthenticated && !options_.user.empty() && attempt == 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (token_ == token) token_.clear();  // expired or revoked: authenticate again
      continue;
    }
    if (e.code == kUnavailable || out.status == 503) {
      unreachable = true;
      return Status::failed(e.message);
    }
    return Status::failed("etcd at " + quoted(url) + " refused " + what + ": " + e.message);
  }
}

Status Client::authenticate(size_t endpoint, Deadline deadline, bool& unreachable) {
  const std::string& url = options_.endpoints[endpoint];
  Json request = Json::object();
  request.set("name", options_.user);
  request.set("password", options_.password);
  auto timeout = options_.request_timeout;
  if (deadline)
    timeout = std::min(timeout, std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()));
  PostOutcome out = transport_->post(url + "/v3/auth/authenticate", request.dump(-1), "", timeout);
  if (!out.answered) {
    unreachable = true;
    return Status::failed(out.failure);
  }
  auto json = Json::parse(out.body);
  const Json* token = json && out.status == 200 ? json->find("token") : nullptr;
  if (token == nullptr || !token->is_string() || token->as_string().empty()) {
    const EtcdError e = error_of(json ? *json : Json(), out.status);
    return Status::failed("etcd at " + quoted(url) + " refused user '" + options_.user + "': " + e.message,
                          "check etcd_user and etcd_password_file");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  token_ = token->as_string();
  return Status::ok();
}

// Tries the endpoints in turn, starting with the one that answered last.
Result<Json> Client::call(const std::string& path, const Json& request, const std::string& what, Deadline deadline) {
  const size_t n = options_.endpoints.size();
  if (n == 0) return Status::usage("no etcd endpoints configured", "set etcd_endpoints");
  size_t first;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    first = preferred_;
  }
  const std::string body = request.dump(-1);
  std::string failures;
  for (size_t i = 0; i < n; ++i) {
    const size_t e = (first + i) % n;
    bool unreachable = false;
    auto answer = call_at(e, path, body, what, deadline, unreachable);
    if (!unreachable) {
      if (answer) {
        std::lock_guard<std::mutex> lock(mutex_);
        preferred_ = e;
      }
      return answer;
    }
    const std::string& url = options_.endpoints[e];
    failures += (failures.empty() ? "" : "; ") + quoted(url) + (n == 1 ? ": " : " (") + answer.status().message() +
                (n == 1 ? "" : ")");
  }
  return Status::failed("cannot reach etcd at " + failures, kHint);
}

Result<Lease> Client::grant(std::chrono::seconds ttl) {
  Json request = Json::object();
  request.set("TTL", text_of(ttl.count()));
  auto answer = call("/v3/lease/grant", request, "a lease");
  if (!answer) return answer.status();
  Lease lease{int64_at(*answer, "ID"), int64_at(*answer, "TTL")};
  if (lease.id == 0) return Status::failed("etcd at " + endpoints_text() + " granted no lease", kHint);
  return lease;
}

Result<int64_t> Client::keepalive(int64_t lease, Deadline deadline) {
  Json request = Json::object();
  request.set("ID", text_of(lease));
  auto answer = call("/v3/lease/keepalive", request, "a lease renewal", deadline);
  if (!answer) return answer.status();
  // One message of the keep-alive stream: {"result": {"ID", "TTL"}}; a TTL
  // left out (0) means the lease is gone.
  const Json* result = answer->find("result");
  return result ? int64_at(*result, "TTL") : int64_t{0};
}

Status Client::revoke(int64_t lease) {
  Json request = Json::object();
  request.set("ID", text_of(lease));
  auto answer = call("/v3/lease/revoke", request, "a lease revocation");
  if (!answer && answer.status().message().find("lease not found") != std::string::npos) return Status::ok();
  return answer.status();
}

Result<CreateResult> Client::create(const std::string& key, const std::string& value, int64_t lease) {
  Json request = txn(compare("CREATE", "create_revision", key, 0), put_request(key, value, lease),
                     key_request("request_range", key));
  auto answer = call("/v3/kv/txn", request, "creating " + quoted(key));
  if (!answer) return answer.status();
  CreateResult out;
  out.created = succeeded(*answer);
  out.revision = header_revision(*answer);
  if (!out.created) {
    const Json* responses = answer->find("responses");
    if (responses && responses->is_array() && !responses->as_array().empty()) {
      auto kvs = kvs_of(responses->as_array()[0].find("response_range"));
      if (!kvs.empty()) out.existing = kvs[0];
    }
  }
  return out;
}

Result<std::optional<KeyValue>> Client::get(const std::string& key) {
  Json request = Json::object();
  request.set("key", base64_encode(key));
  auto answer = call("/v3/kv/range", request, "reading " + quoted(key));
  if (!answer) return answer.status();
  auto kvs = kvs_of(&*answer);
  if (kvs.empty()) return std::optional<KeyValue>();
  return std::optional<KeyValue>(kvs[0]);
}

Result<RangeResult> Client::range_prefix(const std::string& prefix) {
  Json request = Json::object();
  request.set("key", base64_encode(prefix));
  request.set("range_end", base64_encode(prefix_end(prefix)));
  auto answer = call("/v3/kv/range", request, "listing " + quoted(prefix));
  if (!answer) return answer.status();
  return RangeResult{kvs_of(&*answer), header_revision(*answer)};
}

Result<bool> Client::put_if_mod_revision(const std::string& key, const std::string& value, int64_t mod_revision,
                                         int64_t lease) {
  Json request = txn(compare("MOD", "mod_revision", key, mod_revision), put_request(key, value, lease), std::nullopt);
  auto answer = call("/v3/kv/txn", request, "writing " + quoted(key));
  if (!answer) return answer.status();
  return succeeded(*answer);
}

Result<bool> Client::guarded_delete(const std::string& key, const char* target, const char* field, int64_t revision) {
  Json request = txn(compare(target, field, key, revision), key_request("request_delete_range", key), std::nullopt);
  auto answer = call("/v3/kv/txn", request, "deleting " + quoted(key));
  if (!answer) return answer.status();
  return succeeded(*answer);
}

Result<bool> Client::delete_if_create_revision(const std::string& key, int64_t create_revision) {
  return guarded_delete(key, "CREATE", "create_revision", create_revision);
}

Result<bool> Client::delete_if_mod_revision(const std::string& key, int64_t mod_revision) {
  return guarded_delete(key, "MOD", "mod_revision", mod_revision);
}

}  // namespace cellar::etcd
