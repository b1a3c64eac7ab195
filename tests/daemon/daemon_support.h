// Shared pieces of the [daemon] tests: the status answer as JSON, a guard
// that stops the daemon (and kills it if it will not stop) even when a test
// failed, and a raw client of the control socket.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "common/json.h"
#include "support/cellar_env.h"

namespace cellar::test {

// `daemon status --format json`, REQUIREd to succeed.
Json daemon_status_json(const CellarEnv& env);
// servers.<server>.receive_wal of the status answer (null Json if absent).
Json receiver_view(const CellarEnv& env, const std::string& server);
// Its pid when the daemon shows one.
std::optional<pid_t> shown_receiver_pid(const CellarEnv& env, const std::string& server);
// The PID in <home>/.cellar-daemon.sock.pid (whether or not it runs).
std::optional<pid_t> daemon_pid_in_file(const CellarEnv& env);
std::string socket_path(const CellarEnv& env);

// Sends `raw` (one or more lines, as given) and returns the first answer
// line, "" when the daemon closed without one.
std::string ask_raw(const std::string& socket, const std::string& raw);

// As ask_raw, but shuts down its sending side after `raw` (socat, nc -N).
std::string ask_half_closed(const std::string& socket, const std::string& raw);

// Connects, sends `raw` and hangs up without reading.
void send_and_close(const std::string& socket, const std::string& raw);

class DaemonGuard {
 public:
  explicit DaemonGuard(const CellarEnv& env) : env_(env) {}
  ~DaemonGuard();
  DaemonGuard(const DaemonGuard&) = delete;
  DaemonGuard& operator=(const DaemonGuard&) = delete;

 private:
  const CellarEnv& env_;
};

}  // namespace cellar::test
