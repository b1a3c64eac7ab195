// common/process.h: exit statuses, pipes and redirections, failed execs, the
// descriptors and signal state a child starts with, and detached children.
// The children are this test binary in helper mode; every wait is on a pipe.
#include "common/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <climits>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>

#include "common/signals.h"
#include "support/helper_mode.h"
#include "support/run.h"

using namespace cellar;
using Catch::Matchers::Contains;

namespace {

// --- helpers (child side) -----------------------------------------------------

int exit_with(const std::vector<std::string>& args) { return std::atoi(args.at(0).c_str()); }
CELLAR_TEST_HELPER("process-exit-with", exit_with);

int raise_signal(const std::vector<std::string>& args) {
  ::raise(std::atoi(args.at(0).c_str()));
  return 99;  // not reached when the signal's default action kills us
}
CELLAR_TEST_HELPER("process-raise", raise_signal);

// Copies stdin lines to stdout ("out: ...") and stderr ("err: ...").
int echo_lines(const std::vector<std::string>&) {
  for (std::string line; std::getline(std::cin, line);) {
    std::cout << "out: " << line << "\n";
    std::cerr << "err: " << line << "\n";
  }
  return 0;
}
CELLAR_TEST_HELPER("process-echo", echo_lines);

std::string link_of(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n < 0 ? "?" : std::string(buf, static_cast<size_t>(n));
}

// The open descriptors, "0,1,2" style (the directory's own left out).
std::string open_fds() {
  DIR* d = ::opendir("/proc/self/fd");
  std::map<int, bool> fds;
  for (dirent* e; (e = ::readdir(d));)
    if (e->d_name[0] != '.' && std::atoi(e->d_name) != ::dirfd(d)) fds[std::atoi(e->d_name)] = true;
  ::closedir(d);
  std::string out;
  for (const auto& [fd, _] : fds) out += (out.empty() ? "" : ",") + std::to_string(fd);
  return out;
}

// The "SigIgn:"/"SigBlk:" mask of /proc/self/status.
unsigned long long signal_mask(const std::string& field) {
  std::string status = test::read_text("/proc/self/status");
  size_t at = status.find(field + ":");
  return at == std::string::npos ? ~0ULL : std::strtoull(status.c_str() + at + field.size() + 1, nullptr, 16);
}

// Tells what it was started with, one key=value per line.
int describe_self(const std::vector<std::string>&) {
  std::cout << "pid=" << ::getpid() << "\nppid=" << ::getppid() << "\nsid=" << ::getsid(0) << "\npgid=" << ::getpgid(0)
            << "\ncwd=" << link_of("/proc/self/cwd") << "\nstdin=" << link_of("/proc/self/fd/0")
            << "\nfds=" << open_fds() << "\nsigign=" << signal_mask("SigIgn") << "\nsigblk=" << signal_mask("SigBlk")
            << "\n";
  return 0;
}
CELLAR_TEST_HELPER("process-describe", describe_self);

// --- test side ----------------------------------------------------------------

SpawnOptions helper(const std::string& name, std::vector<std::string> args = {}) {
  SpawnOptions o;
  o.argv = {test::self_exe(), "--helper", name};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  return o;
}

SpawnOptions program(const std::string& argv0, const std::string& exe = "", bool search_path = false) {
  SpawnOptions o;
  o.argv = {argv0};
  o.exe = exe;
  o.search_path = search_path;
  return o;
}

std::string read_to_end(int fd) {
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::map<std::string, std::string> key_values(const std::string& text) {
  std::map<std::string, std::string> kv;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (auto eq = line.find('='); eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  return kv;
}

// Runs the describe helper with stdout into a pipe and returns what it said.
std::map<std::string, std::string> describe(SpawnOptions o) {
  o.out = Stdio::pipe();
  auto child = spawn(o);
  REQUIRE(child);
  std::string text = read_to_end(child->stdout_pipe().get());
  auto ended = child->wait();
  REQUIRE(ended);
  CHECK(ended->success());
  return key_values(text);
}

bool has_signal(unsigned long long mask, int sig) { return (mask >> (sig - 1)) & 1ULL; }

}  // namespace

TEST_CASE("spawn reports the exit status, or the signal that ended the child", "[common]") {
  struct Case {
    SpawnOptions options;
    int code, signal, shell_code;
  };
  const std::vector<Case> cases = {
      {helper("process-exit-with", {"0"}), 0, 0, 0},
      {helper("process-exit-with", {"3"}), 3, 0, 3},
      {helper("process-raise", {std::to_string(SIGTERM)}), 0, SIGTERM, 128 + SIGTERM},
      {helper("process-raise", {std::to_string(SIGKILL)}), 0, SIGKILL, 128 + SIGKILL},
  };
  for (const auto& c : cases) {
    INFO(c.options.argv.back());
    auto child = spawn(c.options);
    REQUIRE(child);
    auto ended = child->wait();
    REQUIRE(ended);
    CHECK(ended->code == c.code);
    CHECK(ended->signal == c.signal);
    CHECK(ended->shell_code() == c.shell_code);
    CHECK(ended->success() == (c.shell_code == 0));
    CHECK_FALSE(child->wait());  // once only
  }
}

TEST_CASE("pipes carry a child's stdin, stdout and stderr separately", "[common]") {
  SpawnOptions o = helper("process-echo");
  o.in = o.out = o.err = Stdio::pipe();
  auto child = spawn(o);
  REQUIRE(child);
  REQUIRE(write_all(child->stdin_pipe().get(), "one\ntwo\n", "stdin pipe"));
  child->stdin_pipe().reset();  // EOF: the helper ends its loop
  CHECK(read_to_end(child->stdout_pipe().get()) == "out: one\nout: two\n");
  CHECK(read_to_end(child->stderr_pipe().get()) == "err: one\nerr: two\n");
  auto ended = child->wait();
  REQUIRE(ended);
  CHECK(ended->success());
}

TEST_CASE("a program that cannot be executed is an error of spawn, with exec's errno", "[common]") {
  test::TempDir dir;
  test::write_text(dir / "not-executable", "#!/bin/sh\n");
  struct Case {
    SpawnOptions options;
    int errno_value;
  };
  std::vector<Case> cases = {{program(dir / "missing"), ENOENT},
                             {program(dir / "not-executable"), EACCES},
                             {program("cellar-no-such-program", "", true), ENOENT},
                             {program("x", dir / "missing"), ENOENT}};
  for (const auto& c : cases) {
    INFO(c.options.argv[0]);
    int err = -1;
    auto child = spawn(c.options, &err);
    REQUIRE_FALSE(child);
    CHECK(err == c.errno_value);
    CHECK(child.status().code() == ErrorCode::failed);
    CHECK_THAT(child.status().message(), Contains("could not execute \""));
  }
  // A redirection that cannot be opened fails before anything runs.
  SpawnOptions o = helper("process-exit-with", {"0"});
  o.out = Stdio::append_to(dir / "no-such-dir/log");
  int err = -1;
  auto child = spawn(o, &err);
  REQUIRE_FALSE(child);
  CHECK(err == 0);
  CHECK_THAT(child.status().message(), Contains(dir / "no-such-dir/log"));
}

TEST_CASE("a child gets only its three standard streams, whatever the parent has open", "[common]") {
  UniqueFd plain(::open("/dev/null", O_RDONLY));  // no O_CLOEXEC on purpose
  int p[2];
  REQUIRE(::pipe(p) == 0);
  UniqueFd r(p[0]), w(p[1]);
  REQUIRE(plain.valid());
  CHECK(describe(helper("process-describe"))["fds"] == "0,1,2");
}

TEST_CASE("a child starts with default signal dispositions and nothing blocked", "[common]") {
  struct sigaction ignore {
  }, saved_hup{}, saved_pipe{};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  ::sigaction(SIGHUP, &ignore, &saved_hup);
  ::sigaction(SIGPIPE, &ignore, &saved_pipe);
  std::map<std::string, std::string> seen;
  {
    signals::Blocked blocked;  // as `cellar lock` spawns
    seen = describe(helper("process-describe"));
  }
  ::sigaction(SIGHUP, &saved_hup, nullptr);
  ::sigaction(SIGPIPE, &saved_pipe, nullptr);
  unsigned long long ignored = std::stoull(seen["sigign"]), blocked = std::stoull(seen["sigblk"]);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE}) {
    INFO("signal " << sig);
    CHECK_FALSE(has_signal(ignored, sig));
    CHECK_FALSE(has_signal(blocked, sig));
  }
}

TEST_CASE("redirections append to a file created 0600, and read /dev/null", "[common]") {
  test::TempDir dir;
  SpawnOptions o = helper("process-describe");
  o.in = Stdio::null();
  o.out = Stdio::append_to(dir / "log");
  for (int i = 0; i < 2; ++i) {
    auto child = spawn(o);
    REQUIRE(child);
    REQUIRE(child->wait()->success());
  }
  std::string log = test::read_text(dir / "log");
  size_t first = log.find("pid="), second = log.find("pid=", first + 1);
  CHECK(first == 0);
  CHECK(second != std::string::npos);  // appended, not truncated
  CHECK_THAT(log, Contains("stdin=/dev/null"));
  struct stat sb {};
  REQUIRE(::stat((dir / "log").c_str(), &sb) == 0);
  CHECK((sb.st_mode & 0777) == 0600);
}

TEST_CASE("a detached child is in a new session, nobody's child, in / with stdin /dev/null", "[common]") {
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  UniqueFd r(p[0]), w(p[1]);
  SpawnOptions o = helper("process-describe");
  o.out = Stdio::from_fd(w.get());
  auto pid = spawn_detached(o);
  REQUIRE(pid);
  w.reset();  // EOF once the detached child has written and exited
  auto seen = key_values(read_to_end(r.get()));
  CHECK(seen["pid"] == std::to_string(*pid));
  CHECK(seen["ppid"] != std::to_string(::getpid()));
  CHECK(seen["sid"] != std::to_string(::getsid(0)));
  CHECK(seen["sid"] != seen["pid"]);  // not a session leader: it can never get a terminal
  CHECK(seen["pgid"] == seen["sid"]);
  CHECK(seen["cwd"] == "/");
  CHECK(seen["stdin"] == "/dev/null");
  CHECK(seen["fds"] == "0,1,2");
  int rc = ::waitpid(*pid, nullptr, WNOHANG), err = errno;
  CHECK(rc == -1);  // not ours to wait for
  CHECK(err == ECHILD);
}

TEST_CASE("spawn_detached refuses pipes and reports a failed exec", "[common]") {
  SpawnOptions piped = helper("process-exit-with", {"0"});
  piped.out = Stdio::pipe();
  CHECK_FALSE(spawn_detached(piped));
  test::TempDir dir;
  SpawnOptions missing = program(dir / "missing");
  missing.out = missing.err = Stdio::null();
  auto pid = spawn_detached(missing);
  REQUIRE_FALSE(pid);
  CHECK_THAT(pid.status().message(), Contains("could not execute \"" + dir / "missing" + "\""));
}

TEST_CASE("a Process destroyed before wait kills and reaps its child", "[common]") {
  pid_t pid = -1;
  {
    SpawnOptions o = helper("process-echo");
    o.in = Stdio::pipe();  // the helper blocks reading it
    auto child = spawn(o);
    REQUIRE(child);
    pid = child->pid();
    REQUIRE(::kill(pid, 0) == 0);
  }
  int rc = ::kill(pid, 0), err = errno;
  CHECK(rc == -1);  // no process, not even a zombie
  CHECK(err == ESRCH);
}
