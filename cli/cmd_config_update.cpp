// config-update: validate the whole list, then rewrite the auto file under
// the config-update lock.
#include <chrono>

#include "cli/handlers.h"
#include "config/auto_config.h"
#include "daemon/control.h"
#include "locks/lock_backend.h"
#include "locks/typed_lock.h"

namespace cellar::cli {

namespace {
// How long a second config-update waits for the first before exiting 3.
constexpr std::chrono::seconds kConfigUpdateWait{10};

// Under the lock: validate and write. The lock is gone before a running
// daemon is told to reload (it reads the files; it needs no lock of ours).
Status update_under_lock(Invocation& inv, const std::vector<ConfigChange>& changes) {
  locks::AcquireRequest wait;
  wait.wait = true;
  wait.timeout = std::chrono::milliseconds(kConfigUpdateWait);
  auto lock = locks::ConfigUpdateLock::acquire(locks::lock_manager(*inv.config), "", "", wait);
  if (!lock) return lock.status();
  return apply_config_update(*inv.config, changes);
}

}  // namespace

Outcome run_config_update(Invocation& inv) {
  auto changes = parse_config_changes(inv.str("json"));
  if (!changes) return changes.status();
  if (Status s = update_under_lock(inv, *changes); !s) return s;
  info(inv, "configuration updated: " + std::to_string(changes->size()) + " value(s) written to \"" +
                auto_config_path(*inv.config) + "\"");
  if (std::string told = daemon::tell_daemon_config_changed(*inv.config); !told.empty()) info(inv, told);
  return Status::ok();
}

}  // namespace cellar::cli
