// `cellar daemon` end to end: the real binary started detached, its
// receive-wal children (against the harness PostgreSQL where streaming
// matters, an unreachable port where only the process does), and its
// control socket.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>

#include "common/fs.h"
#include "common/process.h"
#include "cron/cron_support.h"
#include "daemon/daemon_support.h"
#include "support/etcd_server.h"
#include "support/pg_server.h"
#include "support/promtool.h"

using namespace cellar;
using namespace cellar::test;

namespace {

// receive-wal keeps retrying this one: a process that runs, streams nothing.
const std::string kNowhere = "host=127.0.0.1 port=1 dbname=postgres connect_timeout=1";

std::string text_of(const Json& o, const char* key) {
  const Json* v = o.is_object() ? o.find(key) : nullptr;
  return v && v->is_string() ? v->as_string() : "";
}

int64_t int_of(const Json& o, const char* key) {
  const Json* v = o.is_object() ? o.find(key) : nullptr;
  return v && v->is_int() ? v->as_int() : -1;
}

void start_daemon(const CellarEnv& env) {
  auto r = env.run({"daemon", "start"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
}

// Waits until the daemon shows a running receiver other than `not_this`.
pid_t wait_for_receiver(const CellarEnv& env, const std::string& server, std::optional<pid_t> not_this = {}) {
  std::optional<pid_t> pid;
  bool up = wait_until(
      [&] {
        pid = shown_receiver_pid(env, server);
        return pid && pid != not_this && text_of(receiver_view(env, server), "state") == "running";
      },
      20);
  INFO(receiver_view(env, server).dump());
  REQUIRE(up);
  return *pid;
}

std::string transcript(const CellarEnv& env) {
  auto t = read_file(env.home() + "/daemon.log");
  return t ? *t : "";
}

}  // namespace

TEST_CASE(
    "daemon start detaches and answers status, a second start exits 3 naming its PID, stop ends it and its receivers",
    "[daemon]") {
  CellarEnv env;
  env.add_server("main", kNowhere);
  ReceiverGuard receivers(env, {"main"});
  DaemonGuard guard(env);

  start_daemon(env);
  pid_t daemon = *daemon_pid_in_file(env);
  pid_t receiver = wait_for_receiver(env, "main");
  CHECK(text_of(receiver_view(env, "main"), "mode") == "child");

  auto second = env.run({"daemon", "start"});
  CHECK(second.exit_code == 3);
  CHECK(contains(second.err, "already running (PID " + std::to_string(daemon) + ")"));

  auto text = env.run({"daemon", "status"});
  CHECK(text.exit_code == 0);
  CHECK(contains(text.out, "cellar daemon: PID " + std::to_string(daemon)));
  CHECK(contains(text.out, "receive-wal: running (PID " + std::to_string(receiver) + ", child)"));

  auto stopped = env.run({"daemon", "stop"});
  INFO(stopped.out << stopped.err);
  CHECK(stopped.exit_code == 0);
  CHECK_FALSE(process_alive(daemon));
  CHECK_FALSE(process_alive(receiver));
  CHECK_FALSE(std::filesystem::exists(socket_path(env)));
  auto none = env.run({"daemon", "status"});
  CHECK(none.exit_code == 1);
  CHECK(contains(none.err, "ERROR: no cellar daemon answers"));
  CHECK(env.run({"daemon", "stop"}).exit_code == 0);  // nothing to stop is not an error
}

TEST_CASE("a SIGKILLed receive-wal is restarted after 1 s, then 2 s when it dies again at once, and streams again",
          "[daemon][pg]") {
  PgServer& pg = shared_pg();
  CellarEnv env;
  env.add_global("daemon_interval = 1");
  env.add_server("main", pg.conninfo(),
                 "create_slot = \"auto\"\nslot_name = \"daemon_kill\"\nreceive_wal_backoff_limit = 5");
  ReceiverGuard receivers(env, {"main"}, pg.conninfo(), {"daemon_kill"});
  DaemonGuard guard(env);
  start_daemon(env);

  pid_t first = wait_for_receiver(env, "main");
  REQUIRE(wait_until([&] { return receiver_pid(env, "main") == first; }, 10));  // it holds its lock
  ::kill(first, SIGKILL);
  pid_t second = wait_for_receiver(env, "main", first);
  Json view = receiver_view(env, "main");
  CHECK(int_of(view, "restarts") == 1);
  CHECK(int_of(view, "last_exit") == 128 + SIGKILL);
  CHECK(int_of(view, "backoff") == 1);

  ::kill(second, SIGKILL);
  pid_t third = wait_for_receiver(env, "main", second);
  view = receiver_view(env, "main");
  CHECK(int_of(view, "restarts") == 2);
  CHECK(int_of(view, "backoff") == 2);
  CHECK(contains(transcript(env), "Restarting receive-wal of server 'main' in 2 s"));

  // The third one streams, and the maintenance loop archives what it wrote.
  REQUIRE(wait_until([&] { return receiver_pid(env, "main") == third; }, 10));
  std::string segment = switch_segment(env, "main");
  bool archived = wait_until(
      [&] {
        auto names = archived_names(env, "main");
        return std::find(names.begin(), names.end(), segment) != names.end();
      },
      30);
  INFO(transcript(env));
  CHECK(archived);
}

TEST_CASE("a receive-wal exiting 2 (its configuration broke) is not restarted and status shows its exit", "[daemon]") {
  CellarEnv env;
  env.add_server("main", kNowhere);
  ReceiverGuard receivers(env, {"main"});
  DaemonGuard guard(env);
  start_daemon(env);
  pid_t first = wait_for_receiver(env, "main");

  // The next receive-wal will refuse the file (exit 2); the daemon keeps
  // the configuration it has (no SIGHUP).
  std::string config = read_text(env.config());
  write_text(env.config(), config + "\n[servers.main.broken\n");
  ::kill(first, SIGKILL);
  bool settled =
      wait_until([&] { return contains(transcript(env), "is not restarted: exit 2 is in daemon_exit_codes"); }, 15);
  write_text(env.config(), config);  // for `daemon status` itself
  INFO(transcript(env));
  REQUIRE(settled);
  Json view = receiver_view(env, "main");
  INFO(view.dump());
  CHECK(text_of(view, "state") == "stopped");
  CHECK(int_of(view, "last_exit") == 2);
  CHECK(int_of(view, "restarts") == 1);
  CHECK(view.find("pid")->is_null());
  CHECK_FALSE(receiver_pid(env, "main"));
}

TEST_CASE("with daemon_forever off the daemon gives up after backoff-limit fast crashes in a row", "[daemon]") {
  CellarEnv env;
  env.add_global("daemon_forever = false");
  env.add_server("main", kNowhere, "receive_wal_backoff_limit = 3");  // kills polled from outside stay "fast"
  ReceiverGuard receivers(env, {"main"});
  DaemonGuard guard(env);
  start_daemon(env);

  std::optional<pid_t> last;
  for (int restart = 0; restart < 3; ++restart) {
    pid_t pid = wait_for_receiver(env, "main", last);
    ::kill(pid, SIGKILL);
    last = pid;
  }
  pid_t final_one = wait_for_receiver(env, "main", last);
  ::kill(final_one, SIGKILL);
  bool gave_up = wait_until([&] { return text_of(receiver_view(env, "main"), "state") == "given up"; }, 10);
  INFO(receiver_view(env, "main").dump());
  CHECK(gave_up);
  CHECK(int_of(receiver_view(env, "main"), "restarts") == 3);
}

TEST_CASE("a SIGKILLed daemon leaves its receive-wal running; the next one replaces the stale socket and adopts it",
          "[daemon]") {
  CellarEnv env;
  env.add_server("main", kNowhere);
  ReceiverGuard receivers(env, {"main"});
  DaemonGuard guard(env);
  start_daemon(env);
  pid_t receiver = wait_for_receiver(env, "main");
  pid_t daemon = *daemon_pid_in_file(env);

  ::kill(daemon, SIGKILL);
  REQUIRE(wait_until([&] { return !process_alive(daemon); }, 10));
  CHECK(process_alive(receiver));
  CHECK(std::filesystem::exists(socket_path(env)));  // stale now

  start_daemon(env);
  Json view = receiver_view(env, "main");
  INFO(view.dump() << transcript(env));
  CHECK(int_of(view, "pid") == receiver);
  CHECK(text_of(view, "mode") == "adopted");
  CHECK(contains(transcript(env), "Adopted receive-wal of server 'main' (PID " + std::to_string(receiver) + ")"));

  REQUIRE(env.run({"daemon", "stop"}).exit_code == 0);
  CHECK(wait_until([&] { return !process_alive(receiver); }, 10));
}

TEST_CASE("a receive-wal started by hand is left alone and shown, and the daemon starts its own once it ends",
          "[daemon]") {
  CellarEnv env;
  env.add_server("main", kNowhere);
  ReceiverGuard receivers(env, {"main"});
  Child by_hand = env.spawn_cellar({"receive-wal", "main"});
  REQUIRE(wait_until([&] { return receiver_pid(env, "main") == by_hand.pid(); }, 10));
  DaemonGuard guard(env);
  start_daemon(env);
  REQUIRE(wait_until([&] { return text_of(receiver_view(env, "main"), "state") == "external"; }, 10));
  Json view = receiver_view(env, "main");
  CHECK(int_of(view, "pid") == by_hand.pid());
  CHECK(contains(text_of(view, "holder"), "PID " + std::to_string(by_hand.pid())));

  // `cron` beside the daemon starts nothing either.
  auto cron = env.run({"cron"});
  CHECK(cron.exit_code == 0);
  CHECK(count_receivers(env, "main") == 1);

  ::kill(by_hand.pid(), SIGTERM);
  CHECK(by_hand.wait() == 0);
  pid_t own = wait_for_receiver(env, "main", by_hand.pid());
  CHECK(text_of(receiver_view(env, "main"), "mode") == "child");
  CHECK(count_receivers(env, "main") == 1);
  CHECK(own != by_hand.pid());
}

TEST_CASE("reopen-transcript after a rename: the old files keep the old lines, the new ones get the new lines",
          "[daemon]") {
  CellarEnv env;
  env.add_server("main", kNowhere, "receive_wal_backoff_limit = 1");
  ReceiverGuard receivers(env, {"main"});
  DaemonGuard guard(env);
  start_daemon(env);
  wait_for_receiver(env, "main");
  const std::string log = env.home() + "/daemon.log", wal_log = env.server_dir("main") + "/receive-wal.log";
  REQUIRE(wait_until([&] { return contains(read_text(wal_log), "reconnecting"); }, 10));

  std::filesystem::rename(log, log + ".1");
  std::filesystem::rename(wal_log, wal_log + ".1");
  auto reopened = env.run({"daemon", "reopen-transcript"});
  INFO(reopened.err);
  REQUIRE(reopened.exit_code == 0);
  REQUIRE(env.run({"daemon", "reload"}).exit_code == 0);  // a line for the new transcript
  REQUIRE(
      wait_until([&] { return std::filesystem::exists(wal_log) && contains(read_text(wal_log), "reconnecting"); }, 10));

  std::string old_log = read_text(log + ".1"), new_log = read_text(log);
  CHECK(contains(old_log, "cellar daemon " CELLAR_VERSION " started"));
  CHECK_FALSE(contains(old_log, "configuration reloaded"));
  CHECK(contains(new_log, "configuration reloaded"));
  CHECK_FALSE(contains(new_log, "started (PID"));
  CHECK(contains(read_text(wal_log + ".1"), "reconnecting"));
}

TEST_CASE("the control socket is mode 0600 and a peer of another uid is refused even when the mode lets it in",
          "[daemon]") {
  CellarEnv env;
  env.add_server("main", kNowhere, "streaming_archiver = false");
  DaemonGuard guard(env);
  start_daemon(env);
  struct stat st {};
  REQUIRE(::stat(socket_path(env).c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);

  // Open the way for uid 65534 (the directories and the socket), and ask.
  std::filesystem::path home = env.home();
  ::chmod(home.c_str(), 0755);
  ::chmod(home.parent_path().c_str(), 0755);  // the test's own temp directory
  ::chmod(socket_path(env).c_str(), 0666);
  auto as_nobody = run_program({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", self_exe(), "--helper",
                                "daemon-ask", socket_path(env), "{\"command\":\"status\"}"});
  INFO(as_nobody.out << as_nobody.err);
  CHECK(contains(as_nobody.out, "\"ok\":false"));
  CHECK(contains(as_nobody.out, "permission denied: uid 65534"));
  CHECK(contains(transcript(env), "refused a control connection from uid 65534"));
  CHECK(contains(ask_raw(socket_path(env), "{\"command\":\"status\"}\n"), "\"ok\":true"));
}

TEST_CASE("an unparsable or unknown request gets an error answer and the daemon goes on serving", "[daemon]") {
  CellarEnv env;
  env.add_server("main", kNowhere, "streaming_archiver = false");
  DaemonGuard guard(env);
  start_daemon(env);
  const std::string sock = socket_path(env);
  CHECK(contains(ask_raw(sock, "this is not json\n"), "could not parse the request"));
  CHECK(contains(ask_raw(sock, "[1, 2]\n"), "it is not a JSON object"));
  CHECK(contains(ask_raw(sock, "{\"command\":\"dance\"}\n"), "unknown request \\\"dance\\\""));
  CHECK(contains(ask_raw(sock, "{\"command\":\"lock\",\"kind\":\"nope\"}\n"), "\"ok\":false"));
  send_and_close(sock, "{\"command\":\"sta");  // half a request, then gone
  CHECK(contains(ask_raw(sock, "{\"command\":\"status\"}\n"), "\"ok\":true"));
  CHECK(contains(ask_half_closed(sock, "{\"command\":\"status\"}\n"), "\"ok\":true"));  // printf | socat
  CHECK(env.run({"daemon", "dance"}).exit_code == 2);
  CHECK(env.run({"daemon", "kill", "NOSUCHSIGNAL"}).exit_code == 2);
}

TEST_CASE("daemon fg tells systemd READY=1 once its socket answers, and exits 0 on SIGTERM", "[daemon]") {
  CellarEnv env;
  env.add_server("main", kNowhere, "streaming_archiver = false");
  DaemonGuard guard(env);
  const std::string notify = env.home() + "/notify.sock";
  UniqueFd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, notify.c_str(), sizeof a.sun_path - 1);
  REQUIRE(::bind(sock.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);

  Child fg = env.spawn_cellar({"daemon", "fg"}, {"NOTIFY_SOCKET=" + notify});
  auto receive = [&] {
    pollfd p{sock.get(), POLLIN, 0};
    if (::poll(&p, 1, 20000) != 1) return std::string();
    char buf[256];
    ssize_t n = ::recv(sock.get(), buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  };
  CHECK(receive() == "READY=1");
  CHECK(contains(ask_raw(socket_path(env), "{\"command\":\"status\"}\n"), "\"ok\":true"));
  ::kill(fg.pid(), SIGTERM);
  CHECK(receive() == "STOPPING=1");
  CHECK(fg.wait() == 0);
  CHECK_FALSE(std::filesystem::exists(socket_path(env)));
}

TEST_CASE("SIGHUP with a broken configuration keeps the old one with an ERROR line; config-update makes it reload",
          "[daemon]") {
  CellarEnv env;
  env.add_server("main", kNowhere, "streaming_archiver = false");
  DaemonGuard guard(env);
  start_daemon(env);
  pid_t daemon = *daemon_pid_in_file(env);

  std::string good = read_text(env.config());
  write_text(env.config(), good + "\nno_such_key = 1\n");  // in the last table, [servers.main]
  REQUIRE(::kill(daemon, SIGHUP) == 0);
  REQUIRE(wait_until([&] { return contains(transcript(env), "ERROR: configuration not reloaded"); }, 10));
  CHECK(contains(transcript(env), "no_such_key"));
  write_text(env.config(), good);
  CHECK(process_alive(daemon));
  CHECK(daemon_status_json(env).find("servers")->find("main") != nullptr);

  // A server added by config-update gets its receive-wal without a restart.
  auto update = env.run(
      {"config-update", "[{\"scope\": \"server\", \"server_name\": \"second\", \"conninfo\": \"" + kNowhere + "\"}]"});
  INFO(update.out << update.err);
  REQUIRE(update.exit_code == 0);
  CHECK(contains(update.out, "the running daemon reloaded its configuration"));
  ReceiverGuard receivers(env, {"second"});
  CHECK(wait_for_receiver(env, "second") > 0);
  CHECK(*daemon_pid_in_file(env) == daemon);

  // A repository change needs a restart (the daemon mounted them at its start).
  auto moved = env.run({"config-update", "[{\"scope\": \"server\", \"server_name\": \"main\", \"repository\": \"" +
                                             env.home() + "/elsewhere\"}]"});
  INFO(moved.out << moved.err);
  CHECK(moved.exit_code == 0);
  CHECK(contains(moved.out,
                 "the running daemon did not reload: configuration not reloaded: repository of server "
                 "'main' changed, which needs a restart of the daemon"));
}

TEST_CASE("daemon_metrics_listen serves cellar metrics plus the daemon's own on GET /metrics, promtool-clean",
          "[daemon]") {
  CellarEnv env;
  int port = unused_port();
  env.add_global("daemon_metrics_listen = \"127.0.0.1:" + std::to_string(port) + "\"");
  env.add_server("main", kNowhere);
  ReceiverGuard receivers(env, {"main"});
  DaemonGuard guard(env);
  start_daemon(env);
  pid_t first = wait_for_receiver(env, "main");
  ::kill(first, SIGKILL);
  wait_for_receiver(env, "main", first);

  auto get = [&](const std::string& path) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    REQUIRE(::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
    std::string response;
    char buf[8192];
    for (ssize_t n; (n = ::read(fd.get(), buf, sizeof buf)) > 0;) response.append(buf, static_cast<size_t>(n));
    return response;
  };
  std::string response = get("/metrics");
  size_t body_at = response.find("\r\n\r\n");
  REQUIRE(body_at != std::string::npos);
  INFO(response.substr(0, body_at));
  CHECK(response.substr(0, response.find("\r\n")).find(" 200 ") != std::string::npos);
  CHECK(contains(response.substr(0, body_at), "text/plain; version=0.0.4"));
  std::string body = response.substr(body_at + 4);
  require_promtool_clean(body);
  CHECK(contains(body, "cellar_daemon_receive_wal_restarts_total{server=\"main\"} 1\n"));
  CHECK(contains(body, "cellar_daemon_receive_wal_running{server=\"main\",mode=\"child\"} 1\n"));
  CHECK(contains(body, "cellar_postgres_up{server=\"main\"} 0\n"));  // what `cellar metrics` gives
  std::string other = get("/other");
  CHECK(other.substr(0, other.find("\r\n")).find(" 404 ") != std::string::npos);
}

TEST_CASE("a daemon whose metrics port is taken does not start, and says why", "[daemon]") {
  CellarEnv env;
  UniqueFd taken(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(taken.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(taken.get(), 1) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(taken.get(), reinterpret_cast<sockaddr*>(&a), &len) == 0);
  env.add_global("daemon_metrics_listen = \"127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "\"");
  env.add_server("main", kNowhere);
  ReceiverGuard receivers(env, {"main"});
  DaemonGuard guard(env);
  auto r = env.run({"daemon", "start"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "the daemon did not start: could not serve metrics on 127.0.0.1:"));
  auto pid = daemon_pid_in_file(env);
  CHECK_FALSE((pid && process_alive(*pid)));
  CHECK(wait_until([&] { return !receiver_pid(env, "main"); }, 10));
}
