// config-update: validate the whole list, then rewrite the auto file under
// the config-update lock.
#include <chrono>

#include "cli/handlers.h"
#include "config/auto_config.h"
#include "locks/typed_lock.h"

namespace cellar::cli {

namespace {
// How long a second config-update waits for the first before exiting 3.
constexpr std::chrono::seconds kConfigUpdateWait{10};
}  // namespace

int run_config_update(Invocation& inv) {
  auto changes = parse_config_changes(inv.str("json"));
  if (!changes) return report(changes.status());
  auto lock = locks::acquire_lock(inv.config->lock_directory(), locks::LockName{locks::LockKind::config_update, "", ""},
                                  true, std::chrono::milliseconds(kConfigUpdateWait));
  if (!lock) return report(lock.status());
  if (Status s = apply_config_update(*inv.config, *changes); !s) return report(s);
  info(inv, "configuration updated: " + std::to_string(changes->size()) + " value(s) written to \"" +
                auto_config_path(*inv.config) + "\"");
  return 0;
}

}  // namespace cellar::cli
