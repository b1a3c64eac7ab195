#include "daemon/daemon.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <list>
#include <mutex>
#include <optional>

#include "common/log.h"
#include "common/redact.h"
#include "common/signals.h"
#include "common/time_text.h"
#include "daemon/control_socket.h"
#include "daemon/lock_service.h"
#include "daemon/maintenance.h"
#include "daemon/metrics_http.h"
#include "daemon/supervisor.h"
#include "locks/lock_manager.h"
#include "metrics/metrics.h"

namespace cellar::daemon {
namespace {

constexpr size_t kMaxRequest = 64 * 1024;
constexpr auto kRetryWait = std::chrono::milliseconds(250);
constexpr auto kStopGrace = std::chrono::seconds(30);

// One transcript line: time, then the message (and the same in the log).
void say(const std::string& line) {
  static std::mutex mutex;
  std::lock_guard<std::mutex> guard(mutex);
  std::printf("%s %s\n", format_utc(std::time(nullptr), "%Y-%m-%d %H:%M:%S").c_str(), redact_secrets(line).c_str());
  std::fflush(stdout);
  log::info(line);
}

Json error_answer(const Status& st) {
  Json a = Json::object();
  a.set("ok", false);
  a.set("error", redact_secrets(st.message()));
  if (!st.hint().empty()) a.set("hint", redact_secrets(st.hint()));
  a.set("code", st.code() == ErrorCode::usage ? "usage" : st.code() == ErrorCode::busy ? "busy" : "failed");
  return a;
}

Json ok_answer(const std::string& message = "") {
  Json a = Json::object();
  a.set("ok", true);
  if (!message.empty()) a.set("message", message);
  return a;
}

// systemd's Type=notify: "READY=1" to $NOTIFY_SOCKET, when there is one.
void notify_systemd(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::string p = path;
  if (p.size() >= sizeof a.sun_path) return;
  std::memcpy(a.sun_path, p.c_str(), p.size());
  if (p[0] == '@') a.sun_path[0] = '\0';  // an abstract socket
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return;
  (void)::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&a),
                 static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + p.size()));
}

// What a running daemon cannot take over by a reload: where it lives and
// listens, the lock backend, and the repositories mounted at its start
// (shared by its threads). "" when none of it changed, else the first key.
std::string needs_restart(const Config& old_config, const Config& fresh) {
  auto text = [](const Setting& s) { return s.is_set ? value_to_string(s.value) : std::string("<unset>"); };
  for (Key k : {Key::home, Key::lock_directory, Key::lock_backend, Key::etcd_endpoints, Key::etcd_prefix, Key::lock_ttl,
                Key::daemon_socket, Key::daemon_transcript, Key::daemon_metrics_listen})
    if (text(old_config.global[k]) != text(fresh.global[k])) return spec_of(k).name;
  const Key mounted[] = {Key::repository, Key::encryption,   Key::encryption_key_file, Key::s3_endpoint,
                         Key::s3_region,  Key::s3_uri_style, Key::s3_key_id,           Key::s3_secret_file,
                         Key::s3_ca_file, Key::s3_verify_tls};
  for (const ServerConfig& s : fresh.servers) {
    const ServerConfig* before = old_config.find_server(s.name);
    for (Key k : mounted) {
      // A new server needs no restart while it keeps the local repository.
      std::string was = before ? text(before->settings[k]) : text(Setting(default_setting(spec_of(k))));
      if (text(s.settings[k]) != was) return spec_of(k).name + std::string(" of server '") + s.name + "'";
    }
  }
  return "";
}

// A connection and, for lock --wait, the request it waits on.
struct Connection {
  Peer peer;
  std::optional<LockRequest> waiting;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  bool announced = false;  // its wait is in the transcript
  bool done = false;       // answered (or gone): closed at the end of the turn
};

class Daemon {
 public:
  explicit Daemon(const DaemonOptions& o)
      : o_(o),
        config_(o.config),
        supervisor_({o.exe, o.config_path, say}),
        maintenance_({o.config_path, o.exe, [this] { return config(); }, say}) {}

  Status run() {
    ::umask(027);
    signals::install_stop_handlers();
    signals::install_child_handler();
    // A lock the maintenance pass loses (etcd) fails that pass (fencing),
    // never the daemon.
    locks::set_default_on_lost([](const std::string& resource) {
      say("ERROR: lost lock " + resource +
          ": its etcd lease could not be renewed in time; this pass commits nothing more under it");
    });
    auto socket = ControlSocket::open(config()->daemon_socket());  // 1. one daemon per socket
    if (!socket) return socket.status();
    socket_.emplace(std::move(*socket));
    started_ = std::time(nullptr);
    say("cellar daemon " CELLAR_VERSION " started (PID " + std::to_string(::getpid()) + ", socket \"" +
        socket_->path() + "\")");
    if (Status st = serve_metrics(); !st) return st;  // 2. /metrics, when asked for (before any work)
    supervisor_.configure(config());                  // 3. a receiver per streaming server
    publish_views();
    maintenance_.start();  // 4. the cron pass, every daemon_interval
    notify_systemd("READY=1");
    serve();  // 5. until SIGTERM or a stop request
    say("cellar daemon stopping");
    notify_systemd("STOPPING=1");
    metrics_.reset();
    maintenance_.stop();  // 6. the pass ends, then the receivers
    supervisor_.stop_all(kStopGrace);
    say("cellar daemon stopped");
    return Status::ok();
  }

 private:
  std::shared_ptr<const Config> config() {
    std::lock_guard<std::mutex> guard(config_mutex_);
    return config_;
  }

  void serve() {
    while (!stop_ && !signals::stop_requested()) {
      auto now = std::chrono::steady_clock::now();
      if (signals::take_reopen_request()) (void)reload();  // SIGHUP
      (void)signals::take_child_exited();  // tick() waits for exactly its own children, whatever woke us
      auto next = supervisor_.tick(now);
      publish_views();
      retry_waiting();
      poll_once(next);
      std::erase_if(connections_, [](const Connection& c) { return c.done; });
    }
    for (auto& c : connections_)
      if (c.waiting) send_line(c.peer.fd.get(), error_answer(Status::failed("the daemon is stopping")));
  }

  // The supervisor's state for the metrics thread (the supervisor itself
  // is the main thread's alone).
  void publish_views() {
    std::lock_guard<std::mutex> guard(views_mutex_);
    views_ = supervisor_.view();
  }

  Status serve_metrics() {
    const std::string listen = config()->daemon_metrics_listen();
    if (listen == "off") return Status::ok();
    auto server = MetricsServer::start(listen, [this] { return metrics_text(); });
    if (!server) return server.status();
    metrics_ = std::move(*server);
    say("serving metrics on http://" + listen + "/metrics");
    return Status::ok();
  }

  // `cellar metrics` of every server, plus the daemon's own families.
  std::string metrics_text() {
    auto config = this->config();
    std::vector<const ServerConfig*> servers;
    for (const ServerConfig& s : config->servers) servers.push_back(&s);
    auto families = metrics::collect(*config, servers);
    metrics::Family restarts{"cellar_daemon_receive_wal_restarts_total",
                             "receive-wal restarts by this daemon since it started",
                             "counter",
                             {}};
    metrics::Family supervised{"cellar_daemon_receive_wal_running",
                               "1 when the receive-wal this daemon supervises (or sees) runs",
                               "gauge",
                               {}};
    metrics::Family backoff{
        "cellar_daemon_receive_wal_backoff_seconds", "current restart delay of receive-wal", "gauge", {}};
    {
      std::lock_guard<std::mutex> guard(views_mutex_);
      for (const ReceiverView& v : views_) {
        restarts.samples.push_back({{{"server", v.server}}, static_cast<double>(v.restarts)});
        supervised.samples.push_back(
            {{{"server", v.server}, {"mode", v.mode.empty() ? "none" : v.mode}}, v.pid ? 1.0 : 0.0});
        backoff.samples.push_back({{{"server", v.server}}, static_cast<double>(v.backoff_seconds)});
      }
    }
    PassReport pass = maintenance_.last();
    metrics::Family last_pass{"cellar_daemon_maintenance_last_pass_timestamp_seconds",
                              "when the last maintenance pass started (unix time)",
                              "gauge",
                              {}};
    metrics::Family pass_ok{
        "cellar_daemon_maintenance_ok", "1 when the last maintenance pass had no error", "gauge", {}};
    metrics::Family uptime{"cellar_daemon_start_timestamp_seconds",
                           "when this daemon started (unix time)",
                           "gauge",
                           {{{}, static_cast<double>(started_)}}};
    if (pass.started) {
      last_pass.samples.push_back({{}, static_cast<double>(pass.started)});
      pass_ok.samples.push_back({{}, pass.ok ? 1.0 : 0.0});
    }
    for (auto* f : {&uptime, &restarts, &supervised, &backoff, &last_pass, &pass_ok})
      if (!f->samples.empty()) families.push_back(std::move(*f));
    return metrics::render(families);
  }

  bool any_waiting() const {
    return std::any_of(connections_.begin(), connections_.end(),
                       [](const Connection& c) { return c.waiting.has_value(); });
  }

  void poll_once(std::chrono::steady_clock::time_point next) {
    std::vector<pollfd> fds{{socket_->fd(), POLLIN, 0}, {signals::wake_fd(), POLLIN, 0}};
    for (auto& c : connections_) fds.push_back({c.peer.fd.get(), POLLIN | POLLRDHUP, 0});
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - std::chrono::steady_clock::now());
    if (any_waiting()) wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(kRetryWait));
    int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<int64_t>(0, wait.count())));
    if (n <= 0) return;  // timeout, or EINTR from a signal: the loop looks at the flags
    if (fds[1].revents) signals::drain_wakeups();
    size_t i = 2;
    for (auto& c : connections_)
      if (fds[i++].revents) read_from(c);
    if (fds[0].revents & POLLIN) accept_all();
  }

  void accept_all() {
    for (;;) {
      auto peer = accept_peer(socket_->fd());
      if (!peer) return;  // EAGAIN: no more
      if (!peer->allowed()) {
        say("refused a control connection from uid " + std::to_string(peer->uid) + " (PID " +
            std::to_string(peer->pid) + "): neither root nor the daemon's user");
        send_line(peer->fd.get(), error_answer(Status::failed("permission denied: uid " + std::to_string(peer->uid) +
                                                              " is neither root nor the daemon's user")));
        continue;
      }
      Connection c;
      c.peer = std::move(*peer);
      connections_.push_back(std::move(c));
    }
  }

  void read_from(Connection& c) {
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(c.peer.fd.get(), buf, sizeof buf);
      if (n > 0) {
        c.peer.input.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0 && !c.waiting && c.peer.input.find('\n') != std::string::npos) {
        // Half-closed after its request (`printf ... | socat`): answer it.
        size_t nl = c.peer.input.find('\n');
        std::string line = c.peer.input.substr(0, nl);
        c.peer.input.clear();
        handle(c, line);
        if (!c.waiting) c.done = true;
        return;
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        drop(c);  // hung up: a request it was waiting on goes with it
        return;
      }
      break;
    }
    if (c.waiting) return;  // one request at a time
    size_t nl = c.peer.input.find('\n');
    if (nl == std::string::npos) {
      if (c.peer.input.size() > kMaxRequest) answer(c, error_answer(Status::usage("request too long")));
      return;
    }
    std::string line = c.peer.input.substr(0, nl);
    c.peer.input.erase(0, nl + 1);
    handle(c, line);
  }

  void drop(Connection& c) {
    if (c.waiting) say("lock " + describe(*c.waiting) + ": client gave up waiting");
    c.waiting.reset();
    c.done = true;
  }

  void answer(Connection& c, const Json& a) {
    send_line(c.peer.fd.get(), a);
    c.done = true;
  }

  void handle(Connection& c, const std::string& line) {
    auto request = Json::parse(line);
    if (!request || !request->is_object()) {
      answer(c, error_answer(
                    Status::usage("could not parse the request: " +
                                  (request ? std::string("it is not a JSON object") : request.status().message()))));
      return;
    }
    const Json* command = request->find("command");
    std::string verb = command && command->is_string() ? command->as_string() : "";
    if (verb == "status") return answer(c, status_answer());
    if (verb == "stop") {
      stop_ = true;
      Json a = ok_answer("stopping");
      a.set("pid", static_cast<int64_t>(::getpid()));
      return answer(c, a);
    }
    if (verb == "reopen-transcript") {
      log::reopen();
      supervisor_.reopen_logs();
      say("transcript reopened");
      return answer(c, ok_answer("transcript reopened"));
    }
    if (verb == "reload") {
      Status st = reload();
      return answer(c, st ? ok_answer("configuration reloaded") : error_answer(st));
    }
    if (verb == "lock" || verb == "unlock") return lock_request(c, verb, *request);
    answer(c, error_answer(Status::usage("unknown request \"" + verb + "\"",
                                         "requests: status, stop, reopen-transcript, reload, lock, unlock")));
  }

  void lock_request(Connection& c, const std::string& verb, const Json& request) {
    auto config = this->config();
    auto parsed = parse_lock_request(*config, request);
    if (!parsed) return answer(c, error_answer(parsed.status()));
    if (verb == "unlock") {
      auto outcome = unlock(*config, *parsed);
      say("unlock " + describe(*parsed) + ": " + (outcome ? *outcome : outcome.status().message()));
      return answer(c, outcome ? ok_answer(*outcome) : error_answer(outcome.status()));
    }
    c.waiting = std::move(*parsed);
    if (c.waiting->timeout) c.deadline = std::chrono::steady_clock::now() + *c.waiting->timeout;
    attempt(c);
  }

  static std::string describe(const LockRequest& r) {
    std::string w = std::string(locks::kind_name(r.hold.name.kind));
    if (!r.hold.name.server.empty()) w += " " + r.hold.name.server;
    if (!r.hold.name.backup_id.empty()) w += " " + r.hold.name.backup_id;
    return w + " for client '" + r.hold.client + "'";
  }

  // One try of a lock request; a busy one that may wait stays pending.
  void attempt(Connection& c) {
    auto config = this->config();
    auto outcome = try_lock(*config, *c.waiting);
    if (!outcome && outcome.status().code() == ErrorCode::busy && c.waiting->wait &&
        std::chrono::steady_clock::now() < c.deadline) {
      if (!c.announced) say("lock " + describe(*c.waiting) + ": " + outcome.status().message() + ", waiting");
      c.announced = true;
      return;
    }
    LockRequest request = std::move(*c.waiting);
    c.waiting.reset();
    if (!outcome) return answer(c, error_answer(outcome.status()));
    if (!send_line(c.peer.fd.get(), ok_answer(*outcome))) {
      // The client left before it learnt it holds the lock: give it back,
      // unless it held it already (then it asked for nothing new).
      if (*outcome == "lock set") (void)unlock(*config, request);
      say("lock " + describe(request) + ": client gone before the answer, released again");
    } else {
      say("lock " + describe(request) + ": " + *outcome);
    }
    c.done = true;
  }

  // Pending lock --wait requests: dropped when their client hung up, else
  // tried again (past their deadline, the try answers busy).
  void retry_waiting() {
    for (auto& c : connections_) {
      if (!c.waiting || c.done) continue;
      pollfd p{c.peer.fd.get(), POLLRDHUP, 0};
      if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
        drop(c);
        continue;
      }
      attempt(c);
    }
  }

  // SIGHUP or a reload request: validate the files, keep the old
  // configuration when they are broken.
  Status reload() {
    auto loaded = load_config(o_.config_path);
    if (!loaded) {
      say("ERROR: configuration not reloaded, keeping the previous one: " + loaded.status().message());
      return loaded.status();
    }
    if (std::string why = needs_restart(*config(), *loaded); !why.empty()) {
      Status st = Status::failed("configuration not reloaded: " + why + " changed, which needs a restart of the daemon",
                                 "run 'cellar daemon restart' (or systemctl restart cellar)");
      say("ERROR: " + st.message());
      return st;
    }
    auto fresh = std::make_shared<const Config>(std::move(*loaded));
    {
      std::lock_guard<std::mutex> guard(config_mutex_);
      config_ = fresh;
    }
    say("configuration reloaded from \"" + o_.config_path + "\"");
    supervisor_.configure(fresh);
    maintenance_.run_now();
    return Status::ok();
  }

  Json status_answer() {
    Json a = ok_answer();
    a.set("pid", static_cast<int64_t>(::getpid()));
    a.set("started", static_cast<int64_t>(started_));
    a.set("uptime", static_cast<int64_t>(std::time(nullptr) - started_));
    a.set("config", o_.config_path);
    a.set("socket", socket_->path());
    PassReport pass = maintenance_.last();
    Json m = Json::object();
    m.set("last_pass", pass.started ? Json(static_cast<int64_t>(pass.started)) : Json());
    m.set("seconds", pass.seconds);
    m.set("ok", pass.ok);
    m.set("error", pass.error.empty() ? Json() : Json(pass.error));
    m.set("next_in", maintenance_.next_in());
    a.set("maintenance", m);
    Json servers = Json::object();
    for (const ReceiverView& v : supervisor_.view()) {
      Json s = Json::object();
      s.set("receive_wal", v.to_json());
      servers.set(v.server, s);
    }
    for (const auto& [server, errors] : pass.servers) {
      Json s = servers.find(server) ? *servers.find(server) : Json::object();
      Json e = Json::array();
      for (const auto& text : errors) e.push(text);
      Json mm = Json::object();
      mm.set("ok", errors.empty());
      mm.set("errors", e);
      s.set("maintenance", mm);
      servers.set(server, s);
    }
    a.set("servers", servers);
    return a;
  }

  const DaemonOptions& o_;
  std::mutex config_mutex_;
  std::shared_ptr<const Config> config_;
  std::optional<ControlSocket> socket_;
  Supervisor supervisor_;
  Maintenance maintenance_;
  std::list<Connection> connections_;
  std::mutex views_mutex_;
  std::vector<ReceiverView> views_;  // publish_views()
  std::unique_ptr<MetricsServer> metrics_;
  std::time_t started_ = 0;
  bool stop_ = false;
};

}  // namespace

Status run_daemon(const DaemonOptions& options) { return Daemon(options).run(); }

}  // namespace cellar::daemon
