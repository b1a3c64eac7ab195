// The daemon's receive-wal supervision (zdaemon's rules, backoff.h): one
// receive-wal per active, streaming, non-passive server, run as a child of
// the daemon with its output appended to the server's receive-wal.log.
//
// Who may already hold a server's receive-wal lock, and what the daemon does:
//   - its own child: waited for (SIGCHLD) and restarted by the rules;
//   - a receive-wal an earlier daemon started (named by receive-wal.daemon,
//     e.g. after that daemon was SIGKILLed): adopted, supervised as its own
//     but polled, since only its parent can wait for it;
//   - one started by cron or by hand: left alone and shown ("external");
//     once it ends, the daemon starts its own;
//   - another host, or a client hold: shown ("elsewhere"), asked again every
//     two seconds.
// A receiver whose connection settings change is restarted (not counted as a
// crash); a server that leaves the configuration, or stops streaming, has
// its receiver stopped.
//
// Not here: the event loop that calls tick() (daemon.cpp), the lock itself
// (receive-wal takes it; the daemon only asks who holds it).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/process.h"
#include "config/config.h"
#include "daemon/backoff.h"

namespace cellar::daemon {

using Clock = std::chrono::steady_clock;

// What `daemon status` shows of one server's receive-wal.
struct ReceiverView {
  std::string server;
  std::string state;  // running, starting in N s, stopped, given up, external, elsewhere, off
  std::string mode;   // child, adopted, external, elsewhere, "" (none running)
  std::optional<pid_t> pid;
  int restarts = 0;
  std::optional<int> last_exit;  // as a shell reports it (128 + signal)
  std::string last_exit_text;    // "exit 1", "killed by signal 9", "gone (adopted; status unknown)"
  int64_t backoff_seconds = 0;   // the delay waited before the last restart (0 before any)
  std::string holder;            // external / elsewhere: who holds the lock
  Json to_json() const;
};

class Supervisor {
 public:
  struct Options {
    std::string exe = "/proc/self/exe";  // the cellar binary
    std::string config_path;             // absolute; children get "-c <path>"
    std::function<void(const std::string&)> say;
  };
  explicit Supervisor(Options options);
  ~Supervisor();

  // Takes `config` as the one to follow: servers that appeared get a
  // receiver, those that left or stopped streaming have theirs stopped, and
  // changed connection settings restart it. Final and given-up receivers
  // get a fresh start.
  void configure(std::shared_ptr<const Config> config);
  // Reaps, restarts and polls what is due at `now`; returns when it next
  // wants to be called.
  Clock::time_point tick(Clock::time_point now);
  // SIGHUP to every receiver it runs or adopted: they reopen their logs.
  void reopen_logs();
  // SIGTERM to every receiver it runs or adopted, then waits (up to
  // `grace`, then SIGKILL) until they are gone. Leaves external ones alone.
  void stop_all(std::chrono::seconds grace);
  std::vector<ReceiverView> view() const;

 private:
  struct Receiver;
  void tick_one(Receiver& r, Clock::time_point now);
  void after_exit(Receiver& r, AfterExit next, Clock::time_point now);
  void find_holder_or_start(Receiver& r, Clock::time_point now);
  void start(Receiver& r, Clock::time_point now);
  const ServerConfig* server_of(const std::string& name) const;

  Options o_;
  std::shared_ptr<const Config> config_;
  std::map<std::string, std::unique_ptr<Receiver>> receivers_;
};

// Parses daemon_exit_codes and the server's receive_wal_backoff_limit.
RestartPolicy restart_policy(const Config& config, const ServerConfig& server);

}  // namespace cellar::daemon
