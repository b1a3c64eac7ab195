// The one etcd lease of an etcd lock manager and the thread that keeps it
// alive (SPEC §9: a holder that cannot renew stops what it protects before
// the lease can expire). The lease is granted on first use and renewed every
// TTL/3. Each renewal that succeeds moves the deadline to
//   (when that renewal was sent) + (TTL etcd answered) - margin,
//   margin = min(max(2 s, TTL/4), TTL/2):
// etcd restarted the lease's clock after it received the request, so etcd
// cannot expire it before then. When the deadline passes without a renewal,
// or etcd answers that the lease is gone, every lock held under it is marked
// lost and its on_lost called (on the keeper's thread, outside its mutex),
// and the lease is forgotten: the next lease() grants a new one.
//
// Not here: the keys (locks/etcd_lock_manager.cpp). The lease is revoked
// when the keeper is destroyed, which happens after the manager and every
// lock it handed out are gone.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "common/status.h"
#include "etcd/client.h"

namespace cellar::locks {

// What the keeper knows of one held lock.
struct LeaseWatch {
  int64_t lease = 0;  // the lease the lock's key is attached to
  std::function<void()> on_lost;
  std::atomic<bool> lost{false};
};

class LeaseKeeper {
 public:
  LeaseKeeper(std::shared_ptr<etcd::Client> client, std::chrono::seconds ttl);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // The current lease, granted now when there is none (etcd unreachable:
  // failed, naming it).
  Result<int64_t> lease();
  // Starts watching a lock held under watch->lease. False when that lease is
  // no longer the current one (lost meanwhile): the caller gives the key up.
  bool watch(const std::shared_ptr<LeaseWatch>& watch);
  void unwatch(const LeaseWatch* watch);
  // True when `lease` is no longer the current one, or its renewal deadline
  // has passed even if the keeper thread has not noticed yet.
  bool past_deadline(int64_t lease) const;
  // etcd does not know `lease` (it expired): forget it, unless already
  // replaced, and mark its locks lost.
  void forget(int64_t lease);

  struct State;

 private:
  std::shared_ptr<State> state_;
  std::thread thread_;
};

}  // namespace cellar::locks
