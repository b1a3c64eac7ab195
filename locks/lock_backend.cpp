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
  return cached(key, [&] { return make_etcd_lock_manager(o); });
}

}  // namespace cellar::locks
