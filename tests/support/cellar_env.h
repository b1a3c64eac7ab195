// A throwaway cellar installation for end-to-end tests: a temp dir with a
// config file and a home, servers added as TOML snippets, and helpers to run
// the real binary against it.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "support/helper_mode.h"
#include "support/run.h"

namespace cellar::test {

class CellarEnv {
 public:
  CellarEnv();
  const std::string& config() const { return config_; }
  const std::string& home() const { return home_; }
  std::string server_dir(const std::string& server) const { return home_ + "/" + server; }
  // Appends [servers.<name>] with conninfo and extra "key = value" lines.
  void add_server(const std::string& name, const std::string& conninfo, const std::string& extra_toml = "");
  // "K=V" entries every run and spawn of this env gets (e.g. CELLAR_HOSTNAME).
  void set_env(std::vector<std::string> env) { env_ = std::move(env); }
  // Appends raw lines to the [global] table.
  void add_global(const std::string& toml_lines);
  // Runs `cellar -c <config> args...`.
  RunResult run(const std::vector<std::string>& args) const;
  // Starts `cellar -c <config> args...` as a child (stdout piped, stderr
  // inherited); env_extra adds "K=V" entries (e.g. PauseListener::env()).
  Child spawn_cellar(const std::vector<std::string>& args, const std::vector<std::string>& env_extra = {}) const;

 private:
  void write();
  TempDir dir_;
  std::string config_;
  std::string home_;
  std::string global_;
  std::string servers_;
  std::vector<std::string> env_;
};

// The PID holding `server`'s receive-wal lock (the kernel's answer), if any.
std::optional<pid_t> receiver_pid(const CellarEnv& env, const std::string& server);

// `cellar switch-wal SERVER --force`; REQUIREs success and returns the name of
// the segment it closed.
std::string switch_segment(const CellarEnv& env, const std::string& server);

// Polls `pred` every 20 ms until it is true or `seconds` pass; returns pred().
template <typename Pred>
bool wait_until(Pred pred, double seconds);

}  // namespace cellar::test

#include <chrono>
#include <thread>

template <typename Pred>
bool cellar::test::wait_until(Pred pred, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}
