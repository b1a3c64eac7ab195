#include "daemon/daemon_support.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/fs.h"
#include "common/process.h"

namespace cellar::test {

Json daemon_status_json(const CellarEnv& env) {
  auto r = env.run({"--format", "json", "daemon", "status"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto parsed = Json::parse(r.out);
  REQUIRE(parsed);
  return *parsed;
}

Json receiver_view(const CellarEnv& env, const std::string& server) {
  Json s = daemon_status_json(env);
  const Json* servers = s.find("servers");
  const Json* one = servers ? servers->find(server) : nullptr;
  const Json* r = one ? one->find("receive_wal") : nullptr;
  return r ? *r : Json();
}

std::optional<pid_t> shown_receiver_pid(const CellarEnv& env, const std::string& server) {
  Json r = receiver_view(env, server);
  const Json* pid = r.is_object() ? r.find("pid") : nullptr;
  if (!pid || !pid->is_int()) return std::nullopt;
  return static_cast<pid_t>(pid->as_int());
}

std::string socket_path(const CellarEnv& env) { return env.home() + "/.cellar-daemon.sock"; }

std::optional<pid_t> daemon_pid_in_file(const CellarEnv& env) {
  auto text = read_file(socket_path(env) + ".pid");
  if (!text || text->empty()) return std::nullopt;
  return static_cast<pid_t>(std::stol(*text));
}

namespace {

// Connected and `raw` sent; an invalid fd when either failed.
UniqueFd connect_and_send(const std::string& socket, const std::string& raw) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, socket.c_str(), sizeof a.sun_path - 1);
  if (!fd.valid() || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return UniqueFd();
  // EPIPE: the daemon answered and closed first (a refused peer); the answer
  // is still there to read.
  if (::send(fd.get(), raw.data(), raw.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(raw.size()) && errno != EPIPE)
    return UniqueFd();
  return fd;
}

std::string read_answer(int fd) {
  std::string got;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
    if (got.find('\n') != std::string::npos) break;
  }
  return got.substr(0, got.find('\n'));
}

// `cellar_tests --helper daemon-ask SOCKET REQUEST`: prints the answer (run
// as another uid by the peer-refusal test).
int daemon_ask(const std::vector<std::string>& args) {
  UniqueFd fd = connect_and_send(args.at(0), args.at(1) + "\n");
  if (!fd.valid()) {
    std::printf("could not connect: %s\n", std::strerror(errno));
    return 1;
  }
  std::printf("%s\n", read_answer(fd.get()).c_str());
  return 0;
}
CELLAR_TEST_HELPER("daemon-ask", daemon_ask);

}  // namespace

std::string ask_half_closed(const std::string& socket, const std::string& raw) {
  UniqueFd fd = connect_and_send(socket, raw);
  REQUIRE(fd.valid());
  REQUIRE(::shutdown(fd.get(), SHUT_WR) == 0);
  return read_answer(fd.get());
}

void send_and_close(const std::string& socket, const std::string& raw) {
  UniqueFd fd = connect_and_send(socket, raw);
  REQUIRE(fd.valid());
}

std::string ask_raw(const std::string& socket, const std::string& raw) {
  UniqueFd fd = connect_and_send(socket, raw);
  REQUIRE(fd.valid());
  return read_answer(fd.get());
}

DaemonGuard::~DaemonGuard() {
  env_.run({"daemon", "stop"});
  if (auto pid = daemon_pid_in_file(env_); pid && process_alive(*pid)) {
    ::kill(*pid, SIGKILL);
    wait_until([&] { return !process_alive(*pid); }, 10);
  }
}

}  // namespace cellar::test
