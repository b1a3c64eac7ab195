#include "daemon/lock_service.h"

#include <fnmatch.h>

#include "locks/lock_backend.h"

namespace cellar::daemon {
namespace {

std::string text_field(const Json& request, const char* key) {
  const Json* v = request.find(key);
  return v && v->is_string() ? v->as_string() : "";
}

// A whole number of seconds, 0 to a year; anything else reads as absent
// (and is refused by the caller when it was given).
constexpr int64_t kMaxSeconds = 366 * 86400;
std::optional<int64_t> seconds_field(const Json& request, const char* key) {
  const Json* v = request.find(key);
  if (!v || !v->is_int() || v->as_int() < 0 || v->as_int() > kMaxSeconds) return std::nullopt;
  return v->as_int();
}

bool present(const Json& request, const char* key) {
  const Json* v = request.find(key);
  return v && !v->is_null();
}

}  // namespace

bool lockable(const Config& config, const locks::LockName& name) {
  const std::string kind = locks::kind_name(name.kind);
  for (const std::string& pattern : config.daemon_lockable()) {
    size_t colon = pattern.find(':');
    std::string kind_pattern = pattern.substr(0, colon), server_pattern = pattern.substr(colon + 1);
    if (::fnmatch(kind_pattern.c_str(), kind.c_str(), 0) == 0 &&
        ::fnmatch(server_pattern.c_str(), name.server.c_str(), 0) == 0)
      return true;
  }
  return false;
}

Result<LockRequest> parse_lock_request(const Config& config, const Json& request) {
  auto name = locks::make_lock_name(text_field(request, "kind"), text_field(request, "server"),
                                    text_field(request, "backup_id"));
  if (!name) return name.status();
  if (!name->server.empty() && !config.find_server(name->server))
    return Status::usage("unknown server \"" + name->server + "\"");
  LockRequest r;
  r.hold.name = *name;
  r.hold.client = text_field(request, "client");
  r.hold.reason = text_field(request, "reason");
  if (r.hold.client.empty()) return Status::usage("a lock request needs a client name (--client NAME)");
  if (Status st = locks::validate_client_name(r.hold.client); !st) return st;
  if (!lockable(config, *name))
    return Status::usage(
        "\"" + std::string(locks::kind_name(name->kind)) + ":" + name->server + "\" is not in daemon_lockable",
        "add a KIND:SERVER pattern to daemon_lockable to let clients lock it through the daemon");
  auto ttl = seconds_field(request, "ttl");
  if (present(request, "ttl") && (!ttl || *ttl < 1))
    return Status::usage("a lock's ttl must be whole seconds from 1 to " + std::to_string(kMaxSeconds));
  if (ttl) r.hold.ttl = std::chrono::seconds(*ttl);
  const Json* wait = request.find("wait");
  r.wait = wait && wait->is_bool() && wait->as_bool();
  auto timeout = seconds_field(request, "timeout");
  if (present(request, "timeout") && !timeout)
    return Status::usage("a lock's timeout must be whole seconds from 0 to " + std::to_string(kMaxSeconds));
  if (timeout) r.timeout = std::chrono::seconds(*timeout);
  return r;
}

Result<std::string> try_lock(const Config& config, const LockRequest& request) {
  auto outcome = locks::lock_manager(config).hold(request.hold);
  if (!outcome) return outcome.status();
  return std::string(*outcome == locks::HoldOutcome::renewed ? "already locked by you" : "lock set");
}

Result<std::string> unlock(const Config& config, const LockRequest& request) {
  Status st = locks::lock_manager(config).release_hold(request.hold.name, request.hold.client);
  if (st) return std::string("lock released");
  if (st.message() == "resource not held") return Status::failed("not locked");
  return st;
}

}  // namespace cellar::daemon
