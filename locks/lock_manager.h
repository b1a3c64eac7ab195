// The lock manager (libvirt's lock-manager idea): one interface behind which
// every command takes its typed locks (SPEC §5.2) whatever keeps them. The
// resources are the LockNames of lock_names.h; a backend registers nothing up
// front, it maps a LockName to its own object (file backend: the §5.2 file in
// the lock directory; etcd backend: the key <prefix><resource>, where the
// resource is the file name without the leading "." and the ".lock").
//
// Three things a backend keeps per resource:
//   - a process lock: held by one process for as long as it runs (and, for
//     etcd, keeps its lease alive); acquire() / HeldLock;
//   - a client hold (gocept.lockd): held on behalf of a named client until
//     released or past its TTL, across process exits and reboots; hold() /
//     release_hold(). While a hold exists, acquire() of that resource is busy;
//   - a fencing token: every acquisition (process lock or hold) gets a number
//     greater than every earlier acquisition's of the same resource, and
//     HeldLock::check_current() says whether it is still the newest one.
//
// Inquiry (owner(), list()) never takes a lock, in any backend.
// Not here: which command takes which lock (cli's command table), and the
// typed wrappers that put a held lock in a function's signature
// (typed_lock.h).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "locks/inspect.h"
#include "locks/lock_names.h"

namespace cellar::locks {

// Who holds a resource: a process (host, pid, command) or a client hold
// (client, reason, expires). Fields a backend cannot know stay empty.
struct Owner {
  std::string host;                // "" when unknown (file backend: this host)
  std::optional<pid_t> pid;        // the holding process; none for a client hold
  std::string command;             // the holder's command line, "" if unknown
  std::string client;              // set for a client hold
  std::string reason;              // a hold's reason, may be ""
  int64_t since = 0;               // unix seconds, 0 when unknown
  std::optional<int64_t> expires;  // unix seconds; a hold with a TTL
  uint64_t token = 0;              // the fencing token of this acquisition, 0 if unknown

  bool is_hold() const { return !client.empty(); }
};

// This host's name as the backends record it: $CELLAR_HOSTNAME if set and
// not empty (hosts that share a name, tests that play several hosts), else
// gethostname.
const std::string& this_host();

struct AcquireRequest {
  bool wait = false;
  // With wait: give up after this long (ErrorCode::busy). None = forever.
  std::optional<std::chrono::milliseconds> timeout;
  // Called (from another thread) when the backend finds it can no longer
  // keep the lock (etcd: the lease could not be renewed in time), before the
  // lease can expire. Default: signals::request_stop(), which stops
  // receive-wal and every loop that polls stop_requested().
  std::function<void()> on_lost;
};

// A held process lock. The destructor releases it.
class HeldLock {
 public:
  virtual ~HeldLock() = default;
  virtual const LockName& name() const = 0;
  // Greater than every earlier acquisition's token of this resource.
  virtual uint64_t token() const = 0;
  // OK while this acquisition is still the resource's current holder. Else
  // ErrorCode::failed naming the resource, this token and who superseded it.
  // Called right before each commit into the repository (SPEC §9).
  virtual Status check_current() const = 0;
  // True once the backend gave up keeping the lock (see on_lost).
  virtual bool lost() const = 0;
  virtual void release() = 0;
};

struct HoldRequest {
  LockName name;
  std::string client;                       // who holds it, e.g. "dba-upgrade"
  std::string reason;                       // free text, shown by holds/locks
  std::optional<std::chrono::seconds> ttl;  // none: until released
};

struct Hold {
  LockName name;
  Owner owner;  // client, reason, host, since, expires, token
  // true: a hold past its TTL (free; shown by `locks --stale`, removed by
  // `locks --clean` or by the next acquirer).
  bool expired = false;
};

enum class HoldOutcome {
  taken,    // a new hold
  renewed,  // this client already held it: reason and TTL replaced
};

class LockManager {
 public:
  virtual ~LockManager() = default;
  // "file" or "etcd".
  virtual std::string backend() const = 0;
  // Where the locks live, for messages: the lock directory, or the
  // endpoints and prefix.
  virtual std::string where() const = 0;

  // Takes the process lock of `name`. Busy (held by a process or a client
  // hold, or waited past the timeout): ErrorCode::busy with SPEC §2's
  // message naming the holder ("another backup is running for server 'main'
  // (lock .main-backup.lock held by PID 4711: cellar backup main)", or
  // "... held by client 'dba' since ...: reason"). Backend unreachable:
  // ErrorCode::failed naming it. Invalid server or backup id: usage.
  virtual Result<std::unique_ptr<HeldLock>> acquire(const LockName& name, const AcquireRequest& request) = 0;

  // Who holds `name` now (process or unexpired hold), or none when free.
  // Never takes the lock.
  virtual Result<std::optional<Owner>> owner(const LockName& name) = 0;

  // Takes a client hold. Busy (exit 3) when a process or another client
  // holds it: "resource already held by 'client1'" / "... by PID 4711".
  virtual Result<HoldOutcome> hold(const HoldRequest& request) = 0;
  // Releases `client`'s hold. ErrorCode::failed "resource held by 'A' cannot
  // be released by 'B'", or "resource not held" (also for a hold past its
  // TTL, which is removed).
  virtual Status release_hold(const LockName& name, const std::string& client) = 0;
  // Holds of `server` ("" = all), expired ones included (flagged), sorted by
  // resource.
  virtual Result<std::vector<Hold>> holds(const std::string& server) = 0;

  // `cellar locks`: every resource the backend knows (ScanOptions filter as
  // for files), holds included with held=true and client set.
  virtual Result<std::vector<LockEntry>> list(const ScanOptions& options) = 0;
  // `cellar locks --clean`: removes what is free and left over (file: free
  // lock files; etcd: holds past their TTL), never what someone holds.
  virtual std::vector<CleanResult> clean(const std::vector<LockEntry>& entries) = 0;
};

// What a busy lock of `name` means to the user, e.g. "another backup is
// running for server 'main'" (the part before "(held by ...)").
std::string busy_phrase(const LockName& name);
// "PID 4711 on host db1: cellar backup main", "client 'dba' since
// 2026-12-01 02:00:00 UTC: upgrade" — who `owner` is, for messages.
std::string describe_owner(const Owner& owner);
// Validates a hold's client name: 1-64 of [A-Za-z0-9_.@:-]. Usage error.
Status validate_client_name(const std::string& client);
// Validates the server and backup id of `name` (usage errors).
Status validate_lock_name(const LockName& name);

// What a lost lock does when its AcquireRequest has no on_lost: by default
// log it, request_stop() and SIGTERM this process (a command ends, its work
// unpublished). A process that must outlive one lost lock (the daemon: its
// maintenance pass) installs its own; fencing (check_current) still keeps
// the work from being committed. Set once, before any acquire.
using LostLockHandler = std::function<void(const std::string& resource)>;
void set_default_on_lost(LostLockHandler handler);
const LostLockHandler& default_on_lost();

// Convenience over LockManager::acquire with the kind's default wait policy
// (only xlogdb and sync-wal wait, bounded by kDefaultWaitBound).
Result<std::unique_ptr<HeldLock>> acquire_default(LockManager& manager, const LockName& name);

}  // namespace cellar::locks
