#include "common/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

#include "common/signals.h"

namespace cellar {
namespace {

// The exec call, built before fork.
struct ExecCall {
  std::string file;
  std::vector<char*> argv;
  std::vector<std::string> env_text;  // the child's environment, when SpawnOptions::env adds to it
  std::vector<char*> envp;            // null-terminated pointers into env_text; empty = ours
  bool search_path = false;
  const char* cwd = nullptr;
  bool ignore_hangup = false;
};

ExecCall prepare_exec(const SpawnOptions& o) {
  ExecCall e;
  e.file = o.exe.empty() ? o.argv[0] : o.exe;
  for (const auto& a : o.argv) e.argv.push_back(const_cast<char*>(a.c_str()));
  e.argv.push_back(nullptr);
  e.search_path = o.search_path;
  e.cwd = o.cwd.empty() ? nullptr : o.cwd.c_str();
  e.ignore_hangup = o.ignore_hangup;
  if (!o.env.empty()) {
    auto name_of = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
    for (char** v = environ; *v; ++v) {
      std::string entry = *v;
      bool replaced = std::any_of(o.env.begin(), o.env.end(),
                                  [&](const std::string& add) { return name_of(add) == name_of(entry); });
      if (!replaced) e.env_text.push_back(entry);
    }
    e.env_text.insert(e.env_text.end(), o.env.begin(), o.env.end());
    for (auto& entry : e.env_text) e.envp.push_back(entry.data());
    e.envp.push_back(nullptr);
  }
  return e;
}

// The child's three standard streams, opened before fork.
struct ChildStreams {
  int source[3] = {-1, -1, -1};  // what goes onto fd 0, 1, 2; -1 = inherited as is
  UniqueFd opened[3];            // the child's ends we opened: closed in the parent after fork
  UniqueFd parent_end[3];        // pipe ends the parent keeps
};

Status open_stream(const Stdio& s, int index, ChildStreams& c) {
  const bool input = index == 0;
  int fd = -1;
  switch (s.kind) {
    case Stdio::Kind::inherit:
      return Status::ok();
    case Stdio::Kind::fd:
      c.source[index] = s.fd;
      return Status::ok();
    case Stdio::Kind::null:
      fd = ::open("/dev/null", (input ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
      if (fd < 0) return Status::from_errno("could not open \"/dev/null\"", errno);
      break;
    case Stdio::Kind::append:
      fd = input ? ::open(s.path.c_str(), O_RDONLY | O_CLOEXEC)
                 : ::open(s.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0) return Status::from_errno("could not open \"" + s.path + "\"", errno);
      break;
    case Stdio::Kind::pipe: {
      int p[2];
      if (::pipe2(p, O_CLOEXEC) != 0) return Status::from_errno("could not create a pipe", errno);
      fd = input ? p[0] : p[1];
      c.parent_end[index].reset(input ? p[1] : p[0]);
      break;
    }
  }
  c.opened[index].reset(fd);
  c.source[index] = fd;
  return Status::ok();
}

Status open_streams(const SpawnOptions& o, ChildStreams& c) {
  const Stdio* streams[3] = {&o.in, &o.out, &o.err};
  for (int i = 0; i < 3; ++i)
    if (Status st = open_stream(*streams[i], i, c); !st) return st;
  return Status::ok();
}

[[noreturn]] void report_and_exit(int report_fd, int err) {
  (void)!::write(report_fd, &err, sizeof err);
  ::_exit(127);
}

// In the child: default signals, the three streams in place, every other fd
// closed at exec, then exec. Any failure's errno goes to `report_fd`.
[[noreturn]] void exec_child(const ExecCall& e, const ChildStreams& c, int report_fd) {
  signals::reset_in_child();
  if (e.ignore_hangup) ::signal(SIGHUP, SIG_IGN);  // async-signal-safe; survives exec
  // Lift the sources above 2 first, so putting one in place cannot clobber
  // another (a pipe end may well be fd 1 when our own stdout was closed).
  int lifted[3];
  for (int i = 0; i < 3; ++i) {
    lifted[i] = c.source[i] < 0 ? -1 : ::fcntl(c.source[i], F_DUPFD_CLOEXEC, 3);
    if (c.source[i] >= 0 && lifted[i] < 0) report_and_exit(report_fd, errno);
  }
  for (int i = 0; i < 3; ++i)
    if (lifted[i] >= 0 && ::dup2(lifted[i], i) < 0) report_and_exit(report_fd, errno);
  if (e.cwd && ::chdir(e.cwd) != 0) report_and_exit(report_fd, errno);
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);  // report_fd too: EOF tells the parent exec worked
  char** envp = e.envp.empty() ? environ : const_cast<char**>(e.envp.data());
  if (e.search_path)
    ::execvpe(e.file.c_str(), e.argv.data(), envp);
  else
    ::execve(e.file.c_str(), e.argv.data(), envp);
  report_and_exit(report_fd, errno);
}

// Reads a word from `fd`: true if all of it came, false at EOF.
template <typename T>
bool read_word(int fd, T& word) {
  ssize_t n;
  while ((n = ::read(fd, &word, sizeof word)) < 0 && errno == EINTR) {
  }
  return n == static_cast<ssize_t>(sizeof word);
}

struct ReportPipe {
  UniqueFd reader, writer;
  Status open() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return Status::from_errno("could not create a pipe", errno);
    reader.reset(p[0]);
    writer.reset(p[1]);
    return Status::ok();
  }
};

// The detached path's middle process: a new session, the real child, its
// PID (or -errno) to `pid_fd`, exit. The child is then nobody's but init's.
[[noreturn]] void detach(const ExecCall& e, const ChildStreams& c, int pid_fd, int exec_fd) {
  pid_t pid = ::setsid() < 0 ? -1 : ::fork();
  if (pid == 0) exec_child(e, c, exec_fd);
  int64_t word = pid > 0 ? pid : -static_cast<int64_t>(errno);
  (void)!::write(pid_fd, &word, sizeof word);
  ::_exit(pid > 0 ? 0 : 1);
}

void reap(pid_t pid) {
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

// The detached child's PID as the middle process reported it; reaps the
// middle process.
Result<pid_t> read_detached_pid(int fd, pid_t middle, const std::string& file) {
  int64_t word = 0;
  bool got = read_word(fd, word);
  reap(middle);
  if (!got) return Status::failed("could not start \"" + file + "\": the intermediate process died");
  if (word <= 0) return Status::from_errno("could not start \"" + file + "\"", static_cast<int>(-word));
  return static_cast<pid_t>(word);
}

ExitStatus decode_status(int status) {
  ExitStatus s;
  if (WIFEXITED(status)) s.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) s.signal = WTERMSIG(status);
  return s;
}

// What a child needs, opened before fork.
struct Prepared {
  ExecCall exec;
  ChildStreams streams;

  Status open(const SpawnOptions& o) {
    if (o.argv.empty()) return Status::failed("no program to run");
    exec = prepare_exec(o);
    return open_streams(o, streams);
  }
  // In the parent after fork: closes the child's ends (so a pipe sees EOF
  // once the child closes its own) and gives the parent's ends to `in`,
  // `out`, `err`.
  void hand_over(UniqueFd& in, UniqueFd& out, UniqueFd& err) {
    for (UniqueFd& fd : streams.opened) fd.reset();
    in = std::move(streams.parent_end[0]);
    out = std::move(streams.parent_end[1]);
    err = std::move(streams.parent_end[2]);
  }
};

}  // namespace

Process::Process(Process&& other) noexcept { *this = std::move(other); }

Process& Process::operator=(Process&& other) noexcept {
  if (this == &other) return *this;
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    reap(pid_);
  }
  pid_ = other.pid_;
  reaped_ = other.reaped_;
  in_ = std::move(other.in_);
  out_ = std::move(other.out_);
  err_ = std::move(other.err_);
  other.pid_ = -1;
  other.reaped_ = true;
  return *this;
}

Process::~Process() {
  if (reaped_ || pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  reap(pid_);
}

Status Process::signal(int sig) {
  if (reaped_ || pid_ <= 0) return Status::ok();
  if (::kill(pid_, sig) != 0 && errno != ESRCH)
    return Status::from_errno("could not signal process " + std::to_string(pid_), errno);
  return Status::ok();
}

Result<ExitStatus> Process::wait() {
  if (reaped_) return Status::failed("process " + std::to_string(pid_) + " was already waited for");
  in_.reset();  // a child reading its stdin to the end can now finish
  int status = 0;
  reaped_ = true;
  while (::waitpid(pid_, &status, 0) < 0)
    if (errno != EINTR) return Status::from_errno("could not wait for process " + std::to_string(pid_), errno);
  return decode_status(status);
}

Result<std::optional<ExitStatus>> Process::try_wait() {
  if (reaped_) return Status::failed("process " + std::to_string(pid_) + " was already waited for");
  int status = 0;
  pid_t got = ::waitpid(pid_, &status, WNOHANG);
  if (got < 0 && errno != EINTR) return Status::from_errno("could not wait for process " + std::to_string(pid_), errno);
  if (got <= 0) return std::optional<ExitStatus>();
  reaped_ = true;
  in_.reset();
  return std::optional<ExitStatus>(decode_status(status));
}

Result<Process> spawn(const SpawnOptions& o, int* exec_errno) {
  if (exec_errno) *exec_errno = 0;
  Prepared prepared;
  if (Status st = prepared.open(o); !st) return st;
  ReportPipe report;
  if (Status st = report.open(); !st) return st;
  pid_t pid = ::fork();
  if (pid < 0) return Status::from_errno("could not start \"" + prepared.exec.file + "\": fork failed", errno);
  if (pid == 0) exec_child(prepared.exec, prepared.streams, report.writer.get());
  report.writer.reset();
  Process child;
  child.pid_ = pid;
  child.reaped_ = false;
  prepared.hand_over(child.in_, child.out_, child.err_);
  if (int err = 0; read_word(report.reader.get(), err)) {
    (void)child.wait();
    if (exec_errno) *exec_errno = err;
    return Status::from_errno("could not execute \"" + prepared.exec.file + "\"", err);
  }
  return child;
}

Result<pid_t> spawn_detached(const SpawnOptions& options) {
  if (options.out.kind == Stdio::Kind::pipe || options.err.kind == Stdio::Kind::pipe)
    return Status::failed("a detached process cannot write to a pipe: nobody would read it");
  SpawnOptions o = options;
  o.in = Stdio::null();
  if (o.cwd.empty()) o.cwd = "/";
  Prepared prepared;
  if (Status st = prepared.open(o); !st) return st;
  // Two pipes: the middle process's report and the child's exec errno could
  // otherwise interleave.
  ReportPipe pid_report, exec_report;
  if (Status st = pid_report.open(); !st) return st;
  if (Status st = exec_report.open(); !st) return st;
  pid_t middle = ::fork();
  if (middle < 0) return Status::from_errno("could not start \"" + prepared.exec.file + "\": fork failed", errno);
  if (middle == 0) detach(prepared.exec, prepared.streams, pid_report.writer.get(), exec_report.writer.get());
  pid_report.writer.reset();
  exec_report.writer.reset();
  auto pid = read_detached_pid(pid_report.reader.get(), middle, prepared.exec.file);
  if (!pid) return pid;
  if (int err = 0; read_word(exec_report.reader.get(), err))
    return Status::from_errno("could not execute \"" + prepared.exec.file + "\"", err);
  return pid;
}

bool process_alive(pid_t pid) {
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;
  size_t paren = stat->rfind(')');
  return paren != std::string::npos && paren + 2 < stat->size() && (*stat)[paren + 2] != 'Z';
}

}  // namespace cellar
