// locker's service on the daemon's socket: `cellar daemon lock KIND SERVER
// [ID] --client NAME [--wait [--timeout S]]` and `daemon unlock`. The daemon
// takes the lock as a client hold (cellar hold's record, SPEC §9), so it is
// the same lock `cellar hold` takes and `cellar holds` lists, kept until the
// client unlocks it or its --ttl ends, across daemon restarts.
//
// Only what daemon_lockable allows ("KIND:SERVER" shell patterns) may be
// locked or unlocked here. Answers are locker's: "lock set", "already locked
// by you", "lock released", "not locked"; anything else is an error.
//
// A waiting request is retried by the daemon's loop (every 250 ms) until it
// succeeds, its timeout passes, or its client hangs up; a client gone by the
// time the lock is set gets it released again, so a client never leaves
// behind a hold it was not told about.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/json.h"
#include "common/status.h"
#include "config/config.h"
#include "locks/lock_manager.h"

namespace cellar::daemon {

struct LockRequest {
  locks::HoldRequest hold;  // name, client, reason, ttl
  bool wait = false;
  std::optional<std::chrono::milliseconds> timeout;  // with wait; none = until the client gives up
};

// The lock or unlock request in `request` ({"kind", "server", "backup_id",
// "client", "reason", "ttl", "wait", "timeout"}), checked: known kind and
// server, valid client name, allowed by daemon_lockable. Usage error
// otherwise (answered, never thrown).
Result<LockRequest> parse_lock_request(const Config& config, const Json& request);

// "kind:server" matched against daemon_lockable.
bool lockable(const Config& config, const locks::LockName& name);

// One attempt. Ok with "lock set" or "already locked by you"; busy when
// someone else holds it; failed for a backend error.
Result<std::string> try_lock(const Config& config, const LockRequest& request);
// "lock released", or failed "not locked" (also for an expired hold) or
// "held by ... cannot be released by ...".
Result<std::string> unlock(const Config& config, const LockRequest& request);

}  // namespace cellar::daemon
