#include "daemon/supervisor.h"

#include <signal.h>

#include <thread>

#include "common/fs.h"
#include "common/log.h"
#include "common/storage.h"
#include "config/layout.h"
#include "cron/cron.h"
#include "locks/lock_backend.h"

namespace cellar::daemon {
namespace {

constexpr auto kPollExternal = std::chrono::seconds(1);  // is a holder we cannot wait for still there?
constexpr auto kAskElsewhere = std::chrono::seconds(2);  // another host's or a hold: ask the lock manager
constexpr auto kIdle = std::chrono::seconds(3600);       // nothing due

std::string exit_text(const ExitStatus& s) {
  if (s.signal) return "killed by signal " + std::to_string(s.signal);
  return "exit " + std::to_string(s.code);
}

}  // namespace

RestartPolicy restart_policy(const Config& config, const ServerConfig& server) {
  RestartPolicy p;
  p.backoff_limit = std::chrono::seconds(server.receive_wal_backoff_limit().count());
  p.forever = config.daemon_forever();
  p.exit_codes.clear();
  for (const std::string& code : config.daemon_exit_codes()) p.exit_codes.push_back(std::stoi(code));
  return p;
}

struct Supervisor::Receiver {
  std::string server;
  std::string dir;  // the server directory (log, receive-wal.daemon)
  Backoff backoff;
  enum class State { waiting, child, adopted, external, elsewhere, final, given_up, stopping } state = State::waiting;
  std::optional<Process> child;  // state child (or stopping one)
  pid_t pid = 0;                 // child, adopted, external (or stopping)
  std::string holder;            // external / elsewhere
  Clock::time_point started_at{};
  Clock::time_point next{};  // when tick_one has something to do
  uint64_t fingerprint = 0;  // what the running one was started with
  int restarts = 0;
  std::optional<ExitStatus> last_exit;
  std::string last_exit_text;
  bool remove = false;   // stopping for good: drop once gone
  bool planned = false;  // stopped by us for new settings: its restart is not counted
};

Supervisor::Supervisor(Options options) : o_(std::move(options)) {}
Supervisor::~Supervisor() = default;

const ServerConfig* Supervisor::server_of(const std::string& name) const {
  return config_ ? config_->find_server(name) : nullptr;
}

void Supervisor::configure(std::shared_ptr<const Config> config) {
  config_ = std::move(config);
  auto supervised = [](const ServerConfig& s) { return s.active() && !s.passive() && s.streaming_archiver(); };
  // Servers that left, or no longer stream: stop what we run for them.
  for (auto& [name, r] : receivers_) {
    const ServerConfig* s = server_of(name);
    if (s && supervised(*s)) continue;
    r->remove = true;
    if (r->state == Receiver::State::child || r->state == Receiver::State::adopted) {
      o_.say("Stopping receive-wal of server '" + name + "' (PID " + std::to_string(r->pid) +
             "): it is no longer supervised");
      ::kill(r->pid, SIGTERM);
      r->state = Receiver::State::stopping;
    } else if (r->state != Receiver::State::stopping) {
      r->state = Receiver::State::final;  // dropped below
    }
  }
  std::erase_if(receivers_,
                [](const auto& e) { return e.second->remove && e.second->state != Receiver::State::stopping; });
  for (const ServerConfig& s : config_->servers) {
    if (!supervised(s)) continue;
    auto& r = receivers_[s.name];
    if (!r) {
      r = std::make_unique<Receiver>();
      r->server = s.name;
      r->dir = config_->server_dir(s.name);
    }
    r->backoff.set_policy(restart_policy(*config_, s));
    uint64_t fp = cron::receiver_fingerprint(s);
    bool ours = r->state == Receiver::State::child || r->state == Receiver::State::adopted;
    if (ours && r->fingerprint != fp) {
      o_.say("Restarting receive-wal of server '" + s.name + "' (PID " + std::to_string(r->pid) +
             "): its connection settings changed");
      ::kill(r->pid, SIGTERM);
      r->state = Receiver::State::stopping;  // then waiting: started again at once
      r->planned = true;
    }
    if (r->state == Receiver::State::final || r->state == Receiver::State::given_up) {
      r->state = Receiver::State::waiting;
      r->backoff.reset();
      r->next = {};
    }
  }
}

Clock::time_point Supervisor::tick(Clock::time_point now) {
  Clock::time_point next = now + kIdle;
  for (auto& [name, r] : receivers_) {
    tick_one(*r, now);
    next = std::min(next, r->next);
  }
  std::erase_if(receivers_,
                [](const auto& e) { return e.second->remove && e.second->state != Receiver::State::stopping; });
  return std::max(next, now);
}

void Supervisor::tick_one(Receiver& r, Clock::time_point now) {
  using State = Receiver::State;
  switch (r.state) {
    case State::child:
    case State::stopping:
      if (r.child) {
        auto ended = r.child->try_wait();
        if (!ended || !*ended) {
          r.next = now + kIdle;  // SIGCHLD wakes us
          return;
        }
        r.last_exit = **ended;
        r.last_exit_text = exit_text(**ended);
        r.child.reset();
      } else {
        if (process_alive(r.pid)) {  // an adopted one we are stopping
          r.next = now + std::chrono::milliseconds(100);
          return;
        }
        r.last_exit.reset();
        r.last_exit_text = "gone (adopted: exit status unknown)";
      }
      (void)storage::root().remove(layout::receive_wal_daemon_file(r.dir), false);
      if (r.state == State::stopping) {
        r.state = State::waiting;
        r.next = now;
        return;
      }
      o_.say("receive-wal of server '" + r.server + "' (PID " + std::to_string(r.pid) + ") ended: " + r.last_exit_text);
      after_exit(r, r.backoff.on_exit(*r.last_exit, now - r.started_at), now);
      return;
    case State::adopted:
      if (process_alive(r.pid)) {
        r.next = now + kPollExternal;
        return;
      }
      r.last_exit.reset();
      r.last_exit_text = "gone (adopted: exit status unknown)";
      (void)storage::root().remove(layout::receive_wal_daemon_file(r.dir), false);
      o_.say("receive-wal of server '" + r.server + "' (PID " + std::to_string(r.pid) + ", adopted) is gone");
      after_exit(r, r.backoff.on_vanished(now - r.started_at), now);
      return;
    case State::external:
      if (process_alive(r.pid)) {
        r.next = now + kPollExternal;
        return;
      }
      r.state = State::waiting;  // its lock is free now: ours may start
      r.next = now;
      [[fallthrough]];
    case State::waiting:
    case State::elsewhere:
      if (now >= r.next) find_holder_or_start(r, now);
      return;
    case State::final:
    case State::given_up:
      r.next = now + kIdle;
      return;
  }
}

void Supervisor::after_exit(Receiver& r, AfterExit next, Clock::time_point now) {
  switch (next) {
    case AfterExit::restart:
      r.state = Receiver::State::waiting;
      r.next = now + r.backoff.delay();
      o_.say("Restarting receive-wal of server '" + r.server + "' in " + std::to_string(r.backoff.delay().count()) +
             " s");
      return;
    case AfterExit::final:
      r.state = Receiver::State::final;
      o_.say("receive-wal of server '" + r.server + "' is not restarted: " + r.last_exit_text +
             " is in daemon_exit_codes");
      r.next = now + kIdle;
      return;
    case AfterExit::give_up:
      r.state = Receiver::State::given_up;
      o_.say("receive-wal of server '" + r.server + "' is given up after " +
             std::to_string(r.backoff.fast_crashes() - 1) + " fast restarts (daemon_forever = false)");
      r.next = now + kIdle;
      return;
  }
}

// The lock decides: adopt an earlier daemon's receiver, leave cron's (or a
// hand-started one) alone, wait for another host's, or start ours.
void Supervisor::find_holder_or_start(Receiver& r, Clock::time_point now) {
  const ServerConfig* s = server_of(r.server);
  if (!s) return;
  auto owner = locks::lock_manager(*config_).owner({locks::LockKind::receive_wal, r.server, ""});
  if (!owner) {
    r.state = Receiver::State::elsewhere;
    r.holder = "unknown (" + owner.status().message() + ")";
    r.next = now + kAskElsewhere;
    return;
  }
  if (!*owner) {
    start(r, now);
    return;
  }
  const locks::Owner& o = **owner;
  bool local = !o.is_hold() && o.pid && (o.host.empty() || o.host == locks::this_host());
  if (local && process_alive(*o.pid)) {
    auto record = cron::load_process_record(layout::receive_wal_daemon_file(r.dir));
    r.pid = *o.pid;
    r.holder.clear();
    if (record && record->pid == *o.pid) {
      r.state = Receiver::State::adopted;
      r.fingerprint = record->value;
      r.started_at = now;
      o_.say("Adopted receive-wal of server '" + r.server + "' (PID " + std::to_string(r.pid) +
             "), started by an earlier daemon");
      if (r.fingerprint != cron::receiver_fingerprint(*s)) {
        o_.say("Restarting receive-wal of server '" + r.server + "' (PID " + std::to_string(r.pid) +
               "): its connection settings changed");
        ::kill(r.pid, SIGTERM);
        r.state = Receiver::State::stopping;
        r.planned = true;
        r.next = now;
        return;
      }
    } else {
      r.state = Receiver::State::external;
      r.holder = locks::describe_owner(o);
      o_.say("receive-wal of server '" + r.server + "' runs outside the daemon (" + r.holder + "): left alone");
    }
    r.next = now + kPollExternal;
    return;
  }
  r.state = Receiver::State::elsewhere;
  r.holder =
      local ? "PID " + std::to_string(*o.pid) + ", which is gone (its lease ends soon)" : locks::describe_owner(o);
  r.next = now + kAskElsewhere;
}

void Supervisor::start(Receiver& r, Clock::time_point now) {
  const ServerConfig* s = server_of(r.server);
  std::string log_path = layout::receive_wal_log_file(r.dir);
  if (Status st = make_dirs(r.dir); !st) log::warning(st.message());
  SpawnOptions c;
  c.argv = {o_.exe, "-c", o_.config_path, "receive-wal", r.server};
  c.in = Stdio::null();
  c.out = c.err = Stdio::append_to(log_path);
  c.env = {std::string(log::kOutputFileEnv) + "=" + log_path};
  c.ignore_hangup = true;  // a reopen-transcript before its handlers are in must not kill it
  auto child = spawn(c);
  if (!child) {
    r.last_exit.reset();
    r.last_exit_text = child.status().message();
    o_.say("could not start receive-wal of server '" + r.server + "': " + child.status().message());
    after_exit(r, r.backoff.on_vanished(std::chrono::seconds(0)), now);
    return;
  }
  if ((r.last_exit || !r.last_exit_text.empty()) && !r.planned) ++r.restarts;
  r.planned = false;
  r.pid = child->pid();
  r.child = std::move(*child);
  r.state = Receiver::State::child;
  r.started_at = now;
  r.fingerprint = cron::receiver_fingerprint(*s);
  r.holder.clear();
  r.next = now + kIdle;
  cron::save_process_record(layout::receive_wal_daemon_file(r.dir), {static_cast<int64_t>(r.pid), r.fingerprint});
  o_.say("Started receive-wal for server '" + r.server + "' (PID " + std::to_string(r.pid) + ")");
}

void Supervisor::reopen_logs() {
  for (auto& [name, r] : receivers_)
    if (r->state == Receiver::State::child || r->state == Receiver::State::adopted) ::kill(r->pid, SIGHUP);
}

void Supervisor::stop_all(std::chrono::seconds grace) {
  for (auto& [name, r] : receivers_) {
    if (r->state != Receiver::State::child && r->state != Receiver::State::adopted &&
        r->state != Receiver::State::stopping)
      continue;
    o_.say("Stopping receive-wal of server '" + name + "' (PID " + std::to_string(r->pid) + ")");
    ::kill(r->pid, SIGTERM);
    r->state = Receiver::State::stopping;
    r->remove = true;
  }
  auto deadline = Clock::now() + grace;
  for (;;) {
    auto now = Clock::now();
    tick(now);
    if (receivers_.empty() || std::none_of(receivers_.begin(), receivers_.end(),
                                           [](const auto& e) { return e.second->state == Receiver::State::stopping; }))
      break;
    if (now > deadline) {
      for (auto& [name, r] : receivers_)
        if (r->state == Receiver::State::stopping) {
          o_.say("receive-wal of server '" + name + "' (PID " + std::to_string(r->pid) + ") did not stop within " +
                 std::to_string(grace.count()) + " s: killing it");
          ::kill(r->pid, SIGKILL);
        }
      grace = std::chrono::seconds(3600);
      deadline = now + std::chrono::seconds(5);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Json ReceiverView::to_json() const {
  Json o = Json::object();
  o.set("state", state);
  o.set("mode", mode.empty() ? Json() : Json(mode));
  o.set("pid", pid ? Json(static_cast<int64_t>(*pid)) : Json());
  o.set("restarts", restarts);
  o.set("last_exit", last_exit ? Json(*last_exit) : Json());
  o.set("last_exit_text", last_exit_text.empty() ? Json() : Json(last_exit_text));
  o.set("backoff", backoff_seconds);
  o.set("holder", holder.empty() ? Json() : Json(holder));
  return o;
}

std::vector<ReceiverView> Supervisor::view() const {
  using State = Receiver::State;
  std::vector<ReceiverView> out;
  auto now = Clock::now();
  for (const auto& [name, r] : receivers_) {
    ReceiverView v;
    v.server = name;
    v.restarts = r->restarts;
    if (r->last_exit) v.last_exit = r->last_exit->shell_code();
    v.last_exit_text = r->last_exit_text;
    v.backoff_seconds = r->backoff.delay().count();
    v.holder = r->holder;
    switch (r->state) {
      case State::child:
      case State::adopted:
        v.state = "running";
        v.mode = r->state == State::child ? "child" : "adopted";
        v.pid = r->pid;
        break;
      case State::stopping:
        v.state = "stopping";
        v.pid = r->pid;
        break;
      case State::external:
        v.state = "external";
        v.mode = "external";
        v.pid = r->pid;
        break;
      case State::elsewhere:
        v.state = "elsewhere";
        v.mode = "elsewhere";
        break;
      case State::waiting: {
        // Rounded up: "starting in 0 s" only once it is due.
        auto left = std::chrono::ceil<std::chrono::seconds>(r->next - now).count();
        v.state = "starting in " + std::to_string(std::max<int64_t>(0, left)) + " s";
        break;
      }
      case State::final:
        v.state = "stopped";
        break;
      case State::given_up:
        v.state = "given up";
        break;
    }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace cellar::daemon
