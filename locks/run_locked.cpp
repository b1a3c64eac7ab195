#include "locks/run_locked.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cellar::locks {
namespace {

constexpr int kForwarded[] = {SIGTERM, SIGINT, SIGHUP};

volatile sig_atomic_t g_child = 0;

extern "C" void forward_signal(int sig) {
  if (g_child > 0) ::kill(static_cast<pid_t>(g_child), sig);
}

// In the child: default signal handling, nothing blocked, then exec. On
// failure the errno goes back through `report` (closed by a successful exec).
[[noreturn]] void exec_child(const std::vector<std::string>& argv, const sigset_t& old_mask, int report) {
  for (int sig : kForwarded) ::signal(sig, SIG_DFL);
  ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  int err = errno;
  (void)!::write(report, &err, sizeof err);
  ::_exit(127);
}

int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return 1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// Reads the child's exec errno, 0 when the exec succeeded (EOF).
int exec_errno(int report) {
  int err = 0;
  ssize_t n;
  while ((n = ::read(report, &err, sizeof err)) < 0 && errno == EINTR) {
  }
  return n == static_cast<ssize_t>(sizeof err) ? err : 0;
}

}  // namespace

CommandOutcome run_holding(const LockFile& lock, const std::vector<std::string>& argv) {
  (void)lock;  // held by this process for as long as this function runs
  if (argv.empty()) return {2, Status::usage("no command to run")};
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return {1, Status::from_errno("cannot create a pipe", errno)};
  // Block the forwarded signals until the handlers know the child's PID.
  sigset_t block, old_mask;
  sigemptyset(&block);
  for (int sig : kForwarded) sigaddset(&block, sig);
  ::sigprocmask(SIG_BLOCK, &block, &old_mask);
  pid_t pid = ::fork();
  if (pid == 0) exec_child(argv, old_mask, report[1]);
  ::close(report[1]);
  struct sigaction forward {
  }, saved[3];
  forward.sa_handler = forward_signal;
  forward.sa_flags = SA_RESTART;
  sigemptyset(&forward.sa_mask);
  g_child = pid > 0 ? pid : 0;
  for (size_t i = 0; i < 3; ++i) ::sigaction(kForwarded[i], &forward, &saved[i]);
  ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);

  CommandOutcome outcome;
  if (pid < 0)
    outcome = {1, Status::from_errno("cannot start \"" + argv[0] + "\"", errno)};
  else if (int err = exec_errno(report[0]); err != 0) {
    wait_for(pid);
    outcome.exit_code = err == ENOENT ? 127 : 126;
    outcome.error = Status::failed("cannot run \"" + argv[0] + "\": " + std::strerror(err),
                                   err == ENOENT ? "check the command name and PATH" : "check the file's permissions");
  } else {
    outcome.exit_code = wait_for(pid);
  }
  ::close(report[0]);
  g_child = 0;
  for (size_t i = 0; i < 3; ++i) ::sigaction(kForwarded[i], &saved[i], nullptr);
  return outcome;
}

}  // namespace cellar::locks
