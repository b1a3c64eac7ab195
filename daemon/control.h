// The `cellar daemon` verbs a user types, as clients of the control socket
// (control_socket.h) — zdaemon's zdctl to daemon.h's zdrun. Each returns a
// Status the CLI reports once; "not running" is ErrorCode::failed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

#include "common/json.h"
#include "common/status.h"
#include "config/config.h"

namespace cellar::daemon {

struct StartOptions {
  const Config* config = nullptr;
  std::string config_path;             // absolute
  std::string exe = "/proc/self/exe";  // the cellar binary to run as `daemon fg`
  std::chrono::seconds timeout{30};    // for the daemon to answer on its socket
};

// Starts `cellar daemon fg` detached (new session, stdin /dev/null, cwd the
// home, output appended to daemon_transcript) and returns its PID once it
// answers on its socket. Busy (exit 3) when a daemon already runs, naming
// its PID; failed with the daemon's own last ERROR line when it exits first.
Result<pid_t> start_daemon(const StartOptions& options);

// Asks the daemon to stop and waits (up to `timeout`) until it and its
// receivers are gone. None when no daemon was running.
Result<std::optional<pid_t>> stop_daemon(const Config& config, std::chrono::seconds timeout);

// The daemon's status answer (see daemon.cpp), or failed when none runs.
Result<Json> daemon_status(const Config& config);
std::string render_daemon_status(const Json& status);

// Sends `signal` ("HUP", "SIGTERM", "9", ...) to the running daemon.
// Usage error for an unknown signal name.
Result<pid_t> signal_daemon(const Config& config, const std::string& signal);

// One request ({"command": ...}); its "message" when ok, else its error
// (busy/usage/failed as the daemon said). `timeout` none = wait as long as
// the daemon takes (lock --wait without --timeout).
Result<std::string> daemon_request(const Config& config, const Json& request,
                                   std::optional<std::chrono::milliseconds> timeout);

// After config-update: a running daemon reloads (nothing when none runs).
// Returns what to tell the user, "" when no daemon runs.
std::string tell_daemon_config_changed(const Config& config);

}  // namespace cellar::daemon
