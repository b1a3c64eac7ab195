// `cellar daemon` (SPEC §10): one long-running process per host that
// supervises a receive-wal per server (supervisor.h), runs the cron pass
// every daemon_interval (maintenance.h), answers on its control socket
// (control_socket.h: status, stop, reopen-transcript, reload, and locker's
// lock service of lock_service.h), and serves metrics when
// daemon_metrics_listen is set.
//
// The control verbs a user types (start, stop, restart, status, kill,
// reopen-transcript, lock, unlock) are clients of that socket: client.h.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "config/config.h"

namespace cellar::daemon {

struct DaemonOptions {
  std::shared_ptr<const Config> config;  // as loaded; reloaded from config_path on SIGHUP
  std::string config_path;               // absolute
  std::string exe = "/proc/self/exe";    // the cellar binary children run
};

// Runs the daemon in this process until SIGTERM/SIGINT or a stop request;
// its output (the transcript) is stdout. Busy (exit 3) when another daemon
// holds the socket's PID file; failed when the socket or the metrics
// listener cannot be set up. Returns once every receiver it ran has stopped.
Status run_daemon(const DaemonOptions& options);

}  // namespace cellar::daemon
