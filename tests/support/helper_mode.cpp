#include "support/helper_mode.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <map>
#include <stdexcept>

extern char** environ;

namespace cellar::test {
namespace {
std::map<std::string, HelperFn>& registry() {
  static std::map<std::string, HelperFn> r;
  return r;
}
}  // namespace

HelperRegistration::HelperRegistration(const std::string& name, HelperFn fn) { registry()[name] = std::move(fn); }

bool run_helper_mode(int argc, char** argv, int& exit_code) {
  if (argc < 3 || std::string(argv[1]) != "--helper") return false;
  auto it = registry().find(argv[2]);
  if (it == registry().end()) {
    exit_code = 99;
    return true;
  }
  std::vector<std::string> args(argv + 3, argv + argc);
  exit_code = it->second(args);
  return true;
}

std::string self_exe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n < 0) throw std::runtime_error("readlink /proc/self/exe failed");
  return std::string(buf, static_cast<size_t>(n));
}

Child::Child(Child&& o) noexcept { *this = std::move(o); }
Child& Child::operator=(Child&& o) noexcept {
  std::swap(pid_, o.pid_);
  std::swap(in_, o.in_);
  std::swap(out_, o.out_);
  std::swap(buffer_, o.buffer_);
  std::swap(reaped_, o.reaped_);
  std::swap(status_, o.status_);
  return *this;
}
Child::~Child() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    wait();
  }
  if (in_ >= 0) ::close(in_);
  if (out_ >= 0) ::close(out_);
}

std::string Child::read_line() {
  for (;;) {
    auto nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    char buf[4096];
    ssize_t n = ::read(out_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string rest = buffer_;
      buffer_.clear();
      return rest;
    }
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

void Child::write_line(const std::string& line) {
  std::string data = line + "\n";
  if (::write(in_, data.data(), data.size()) != static_cast<ssize_t>(data.size()))
    throw std::runtime_error("write to child failed");
}

void Child::close_stdin() {
  if (in_ >= 0) ::close(in_);
  in_ = -1;
}

int Child::wait() {
  if (!reaped_) {
    while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
  return -1;
}

void Child::kill(int sig) { ::kill(pid_, sig); }

Child spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env_extra) {
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  for (const auto& e : env_extra) env.push_back(e);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::signal(SIGPIPE, SIG_DFL);  // the test binary ignores it (main.cpp)
    // A test that dies must not leave its children running (they would keep
    // ctest's pipes open and hold locks and replication slots).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  Child c;
  c.pid_ = pid;
  c.in_ = in[1];
  c.out_ = out[0];
  return c;
}

Child spawn_helper(const std::string& name, const std::vector<std::string>& args) {
  std::vector<std::string> argv{self_exe(), "--helper", name};
  argv.insert(argv.end(), args.begin(), args.end());
  return spawn(argv);
}

}  // namespace cellar::test
