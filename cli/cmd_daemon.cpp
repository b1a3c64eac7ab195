// daemon ACTION [ARG...] (SPEC §10): zdaemon's verbs and locker's lock
// service, each a client of the daemon's control socket (daemon/control.h);
// `fg` is the daemon itself (daemon/daemon.h).
#include <filesystem>
#include <iostream>

#include "cli/handlers.h"
#include "config/grammar.h"
#include "daemon/control.h"
#include "daemon/daemon.h"

namespace cellar::cli {
namespace {

constexpr std::chrono::seconds kStopTimeout{60};

std::string absolute_config(const Invocation& inv) {
  std::error_code ec;
  std::string path = std::filesystem::absolute(inv.config->main_file, ec).string();
  return ec ? inv.config->main_file : path;
}

// The cellar binary by its path, so that `ps` shows what runs.
std::string this_binary() {
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("/proc/self/exe") : path.string();
}

std::vector<std::string> args_of(const Invocation& inv) {
  return inv.has("args") ? inv.get<std::vector<std::string>>("args") : std::vector<std::string>{};
}

Status expect_args(const Invocation& inv, const std::string& action, size_t at_least, size_t at_most,
                   const std::string& usage) {
  size_t n = args_of(inv).size();
  if (n >= at_least && n <= at_most) return Status::ok();
  return Status::usage("daemon " + action + ": wrong number of arguments", "usage: cellar daemon " + usage);
}

Outcome start(Invocation& inv) {
  daemon::StartOptions o;
  o.config = inv.config;
  o.config_path = absolute_config(inv);
  o.exe = this_binary();
  auto pid = daemon::start_daemon(o);
  if (!pid) return pid.status();
  info(inv, "cellar daemon started (PID " + std::to_string(*pid) + "), transcript \"" +
                inv.config->daemon_transcript() + "\"");
  return Status::ok();
}

Outcome stop(Invocation& inv) {
  auto stopped = daemon::stop_daemon(*inv.config, kStopTimeout);
  if (!stopped) return stopped.status();
  if (!*stopped)
    info(inv, "cellar daemon is not running");
  else
    info(inv, "cellar daemon stopped (PID " + std::to_string(**stopped) + ")");
  return Status::ok();
}

Outcome status(Invocation& inv) {
  auto s = daemon::daemon_status(*inv.config);
  if (!s) return s.status();
  if (inv.json())
    std::cout << s->dump() << "\n";
  else
    std::cout << daemon::render_daemon_status(*s);
  return Status::ok();
}

Outcome foreground(Invocation& inv) {
  daemon::DaemonOptions o;
  o.config = std::make_shared<const Config>(*inv.config);
  o.config_path = absolute_config(inv);
  o.exe = this_binary();
  return daemon::run_daemon(o);
}

// lock / unlock KIND SERVER [ID]: exit 0 with the daemon's answer, else 1.
Outcome lock_or_unlock(Invocation& inv, const std::string& action) {
  if (Status st = expect_args(inv, action, 1, 3, action + " KIND [SERVER [BACKUP_ID]] --client NAME"); !st)
    return Outcome::exit(1, st);  // locker's contract: 0 or 1
  auto args = args_of(inv);
  Json r = Json::object();
  r.set("command", action);
  r.set("kind", args[0]);
  r.set("server", args.size() > 1 ? args[1] : "");
  r.set("backup_id", args.size() > 2 ? args[2] : "");
  r.set("client", inv.str("client"));
  if (inv.has("reason")) r.set("reason", inv.str("reason"));
  std::optional<std::chrono::milliseconds> timeout = std::chrono::seconds(30);
  if (action == "lock") {
    r.set("wait", inv.has("wait"));
    if (inv.has("ttl")) {
      auto ttl = parse_duration(inv.str("ttl"));
      if (!ttl || ttl->count() < 1)
        return Outcome::exit(1, Status::usage("invalid --ttl \"" + inv.str("ttl") + "\"", "e.g. 30min, 2h, 1d"));
      r.set("ttl", static_cast<int64_t>(ttl->count()));
    }
    if (inv.has("wait")) timeout = std::nullopt;
    if (inv.has("timeout")) {
      auto t = parse_duration(inv.str("timeout"));
      if (!t)
        return Outcome::exit(
            1, Status::usage("invalid --timeout \"" + inv.str("timeout") + "\"", "seconds, or e.g. 5min"));
      r.set("timeout", static_cast<int64_t>(t->count()));
      timeout = std::chrono::seconds(t->count() + 10);
    }
  }
  auto answer = daemon::daemon_request(*inv.config, r, timeout);
  if (!answer) {
    // locker's plain answer on stdout, the error on stderr: exit 1 either way.
    if (answer.status().message() == "not locked") std::cout << "not locked\n";
    return Outcome::exit(1, answer.status());
  }
  std::cout << *answer << "\n";
  return Status::ok();
}

Outcome simple_request(Invocation& inv, const char* verb) {
  Json r = Json::object();
  r.set("command", verb);
  auto answer = daemon::daemon_request(*inv.config, r, std::chrono::seconds(60));
  if (!answer) return answer.status();
  info(inv, *answer);
  return Status::ok();
}

}  // namespace

void declare_daemon(po::options_description& d) {
  d.add_options()("client", po::value<std::string>()->value_name("NAME"), "lock/unlock: who holds the lock")(
      "wait", "lock: wait until the lock is free")("timeout", po::value<std::string>()->value_name("SECONDS"),
                                                   "lock --wait: give up after this long (exit 1)")(
      "ttl", po::value<std::string>()->value_name("DURATION"), "lock: released by itself after this long")(
      "reason", po::value<std::string>()->value_name("TEXT"), "lock: why, shown by holds and locks");
}

Outcome run_daemon(Invocation& inv) {
  std::string action = inv.str("action");
  auto no_args = [&]() { return expect_args(inv, action, 0, 0, action); };
  if (action == "lock" || action == "unlock") return lock_or_unlock(inv, action);
  if (action == "kill") {
    if (Status st = expect_args(inv, action, 1, 1, "kill SIGNAL"); !st) return st;
    auto pid = daemon::signal_daemon(*inv.config, args_of(inv)[0]);
    if (!pid) return pid.status();
    info(inv, "sent " + args_of(inv)[0] + " to the cellar daemon (PID " + std::to_string(*pid) + ")");
    return Status::ok();
  }
  if (Status st = no_args(); !st) return st;
  if (action == "start") return start(inv);
  if (action == "stop") return stop(inv);
  if (action == "restart") {
    Outcome stopped = stop(inv);
    if (!stopped.error().is_ok()) return stopped;
    return start(inv);
  }
  if (action == "status") return status(inv);
  if (action == "fg" || action == "foreground") return foreground(inv);
  if (action == "reopen-transcript" || action == "reopen_transcript") return simple_request(inv, "reopen-transcript");
  if (action == "reload") return simple_request(inv, "reload");
  return Status::usage(
      "unknown daemon action \"" + action + "\"",
      "actions: start, stop, restart, status, fg, kill SIGNAL, reopen-transcript, reload, lock, unlock");
}

}  // namespace cellar::cli
