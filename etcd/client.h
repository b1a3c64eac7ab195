// An etcd v3 client over etcd's JSON gateway (POST /v3/..., keys and values
// base64, int64 fields as strings), for the etcd lock backend. It owns the
// endpoint list (a connection error moves on to the next endpoint, and the
// one that answered is tried first next time), TLS settings, and, with a
// user, the auth token (from /v3/auth/authenticate, sent as the
// Authorization header, fetched again when etcd calls it invalid).
//
// Only the operations the lock backend needs: leases, a create that fails
// when the key exists, reads, and writes and deletes guarded by a revision.
// Every read is linearizable (etcd's default).
//
// Failure modes: every error is ErrorCode::failed with one line naming the
// endpoint(s) ("cannot reach etcd at "http://127.0.0.1:2379": Connection
// refused") and a hint; etcd's own refusals name the operation and quote
// etcd's message. No message ever contains the password or the token.
// Thread-safe: one Client may be used from several threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace cellar::etcd {

class Transport;

struct ClientOptions {
  std::vector<std::string> endpoints;  // "http://host:2379" or "https://..."; tried in order
  std::string ca_file;                 // TLS trust, "" = the system's
  std::string cert_file;               // TLS client certificate, "" = none
  std::string key_file;                // its key
  std::string user;                    // "" = no authentication
  std::string password;
  // One attempt at one endpoint gives up after this long. Short, so a lease
  // holder notices a dead link long before its lease could expire.
  std::chrono::milliseconds request_timeout{2000};
};

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t lease = 0;  // 0 = none
};

struct Lease {
  int64_t id = 0;
  int64_t ttl = 0;  // seconds, as granted (etcd grants at least 2 s)
};

struct CreateResult {
  bool created = false;
  int64_t revision = 0;              // the store's revision; when created, the key's create_revision
  std::optional<KeyValue> existing;  // when not created: the key as it is
};

struct RangeResult {
  std::vector<KeyValue> kvs;  // sorted by key
  int64_t revision = 0;       // the store's revision the range was read at
};

// No call may end later than this (failover and retries included); none =
// each attempt's request_timeout only.
using Deadline = std::optional<std::chrono::steady_clock::time_point>;

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // A new lease of `ttl` (etcd may grant more).
  Result<Lease> grant(std::chrono::seconds ttl);
  // Renews the lease; its remaining TTL in seconds, 0 when the lease is gone.
  Result<int64_t> keepalive(int64_t lease, Deadline deadline = {});
  // Drops the lease and every key attached to it; a lease already gone is fine.
  Status revoke(int64_t lease);

  // Puts `key` only if it does not exist (create_revision == 0), attached to
  // `lease` (0 = none).
  Result<CreateResult> create(const std::string& key, const std::string& value, int64_t lease = 0);
  // The key, or none.
  Result<std::optional<KeyValue>> get(const std::string& key);
  // Every key starting with `prefix`.
  Result<RangeResult> range_prefix(const std::string& prefix);
  // Replaces the value only if the key's mod_revision is still `mod_revision`;
  // whether it did.
  Result<bool> put_if_mod_revision(const std::string& key, const std::string& value, int64_t mod_revision,
                                   int64_t lease = 0);
  // Deletes the key only if its create_revision (resp. mod_revision) is still
  // the one given; whether it did.
  Result<bool> delete_if_create_revision(const std::string& key, int64_t create_revision);
  Result<bool> delete_if_mod_revision(const std::string& key, int64_t mod_revision);

  // The endpoints quoted and joined, for messages.
  std::string endpoints_text() const;

 private:
  Result<Json> call(const std::string& path, const Json& request, const std::string& what, Deadline deadline = {});
  Result<Json> call_at(size_t endpoint, const std::string& path, const std::string& body, const std::string& what,
                       Deadline deadline, bool& unreachable);
  Status authenticate(size_t endpoint, Deadline deadline, bool& unreachable);
  Result<bool> guarded_delete(const std::string& key, const char* target, const char* field, int64_t revision);

  ClientOptions options_;
  std::unique_ptr<Transport> transport_;
  mutable std::mutex mutex_;  // guards preferred_ and token_
  size_t preferred_ = 0;      // the endpoint that answered last
  std::string token_;         // auth token, "" until authenticated
};

// The key that ends a range of every key starting with `prefix` (etcd's
// range_end: the prefix with its last byte incremented).
std::string prefix_end(const std::string& prefix);

}  // namespace cellar::etcd
