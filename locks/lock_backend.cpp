#include "locks/lock_backend.h"

#include <map>
#include <memory>
#include <mutex>

#include "locks/etcd_lock_manager.h"
#include "locks/file_lock_manager.h"

namespace cellar::locks {
namespace {

struct Managers {
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<LockManager>> by_key;
};

Managers& managers() {
  static Managers* m = new Managers;  // never destroyed: locks may be released from atexit paths
  return *m;
}

template <typename Make>
LockManager& cached(const std::string& key, Make make) {
  Managers& m = managers();
  std::lock_guard<std::mutex> guard(m.mutex);
  auto& slot = m.by_key[key];
  if (!slot) slot = make();
  return *slot;
}

// lock_backend = "etcd": every kind in etcd except global-cron and cron,
// which protect what only this host can do (its spool, the children it
// starts) and stay flock files in this host's lock_directory. Shared, they
// would let one host's cron pass starve another's archiving of its own spool.
class EtcdWithLocalCron : public LockManager {
 public:
  EtcdWithLocalCron(std::unique_ptr<LockManager> cluster, LockManager& local)
      : cluster_(std::move(cluster)), local_(local) {}
  std::string backend() const override { return "etcd"; }
  std::string where() const override { return cluster_->where(); }
  Result<std::unique_ptr<HeldLock>> acquire(const LockName& name, const AcquireRequest& request) override {
    return of(name.kind).acquire(name, request);
  }
  Result<std::optional<Owner>> owner(const LockName& name) override { return of(name.kind).owner(name); }
  Result<HoldOutcome> hold(const HoldRequest& request) override { return of(request.name.kind).hold(request); }
  Status release_hold(const LockName& name, const std::string& client) override {
    return of(name.kind).release_hold(name, client);
  }
  Result<std::vector<Hold>> holds(const std::string& server) override {
    auto shared = cluster_->holds(server);
    if (!shared) return shared.status();
    auto here = local_.holds(server);
    if (!here) return here.status();
    for (auto& h : *here)
      if (host_local(h.name.kind)) shared->push_back(std::move(h));
    return shared;
  }
  Result<std::vector<LockEntry>> list(const ScanOptions& options) override {
    auto shared = cluster_->list(options);
    if (!shared) return shared.status();
    auto here = local_.list(options);
    if (!here) return here.status();
    for (auto& e : *here)
      if (e.name && host_local(e.name->kind)) shared->push_back(std::move(e));
    return shared;
  }
  std::vector<CleanResult> clean(const std::vector<LockEntry>& entries) override {
    std::vector<LockEntry> shared, here;
    for (const auto& e : entries) (e.name && host_local(e.name->kind) ? here : shared).push_back(e);
    auto out = cluster_->clean(shared);
    for (auto& r : local_.clean(here)) out.push_back(std::move(r));
    return out;
  }

 private:
  static bool host_local(LockKind kind) { return kind == LockKind::global_cron || kind == LockKind::cron; }
  LockManager& of(LockKind kind) { return host_local(kind) ? local_ : *cluster_; }
  std::unique_ptr<LockManager> cluster_;
  LockManager& local_;
};

}  // namespace

LockManager& file_lock_manager(const std::string& lock_dir) {
  return cached("file:" + lock_dir, [&] { return make_file_lock_manager(lock_dir); });
}

LockManager& lock_manager(const Config& config) {
  if (config.lock_backend() != "etcd") return file_lock_manager(config.lock_directory());
  EtcdOptions o;
  o.endpoints = config.etcd_endpoints();
  o.prefix = config.etcd_prefix();
  o.ttl = config.lock_ttl();
  o.ca_file = config.etcd_ca_file();
  o.cert_file = config.etcd_cert_file();
  o.key_file = config.etcd_key_file();
  o.user = config.etcd_user();
  o.password_file = config.etcd_password_file();
  std::string key = "etcd:" + o.prefix + "|" + std::to_string(o.ttl.count());
  for (const auto& e : o.endpoints) key += "|" + e;
  LockManager& local = file_lock_manager(config.lock_directory());
  return cached(key, [&] { return std::make_unique<EtcdWithLocalCron>(make_etcd_lock_manager(o), local); });
}

}  // namespace cellar::locks
