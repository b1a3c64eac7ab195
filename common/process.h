// Child processes: the one fork/exec routine for every program cellar runs
// (cron's background receive-wal and backups, the passive node's
// primary_ssh_command, `cellar lock ... -- COMMAND`). A child gets exactly
// the standard streams it is given: every other descriptor of ours is closed
// at exec, whether or not it was opened O_CLOEXEC, so a child never keeps a
// lock or a pipe of its parent. It starts with default signal dispositions
// and nothing blocked (signals.h). A failed exec is an error of spawn (its
// errno comes back through a close-on-exec pipe), not an exit code to guess.
//
// Everything a child needs is prepared before fork; between fork and exec it
// only makes async-signal-safe system calls, so spawning from a process with
// threads is safe.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/status.h"

namespace cellar {

// What one of a child's standard streams is.
struct Stdio {
  enum class Kind { inherit, pipe, null, append, fd } kind = Kind::inherit;
  std::string path;  // append: opened O_WRONLY|O_APPEND|O_CREAT, mode 0600 (stdin: read)
  int fd = -1;       // fd: this descriptor, which the caller keeps

  static Stdio inherit() { return {}; }
  static Stdio pipe() { return {Kind::pipe, "", -1}; }  // the parent's end is in Process
  static Stdio null() { return {Kind::null, "", -1}; }  // /dev/null
  static Stdio append_to(std::string path) { return {Kind::append, std::move(path), -1}; }
  static Stdio from_fd(int fd) { return {Kind::fd, "", fd}; }
};

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] included; must not be empty
  std::string exe;                // the file to execute; "" = argv[0]
  bool search_path = false;       // look exe up on PATH, as a shell would
  Stdio in, out, err;
  std::string cwd;  // "" = ours ("/" for a detached process)
  // "NAME=VALUE" entries added to (or replacing in) our environment.
  std::vector<std::string> env;
  // SIGHUP ignored (not default) at exec, until the child installs its own
  // handler: a SIGHUP sent in between does not end it.
  bool ignore_hangup = false;
};

// How a child ended.
struct ExitStatus {
  int code = 0;    // its exit status, when it exited
  int signal = 0;  // the signal that killed it, else 0
  bool success() const { return signal == 0 && code == 0; }
  // As a shell reports it: the exit status, or 128 + the signal.
  int shell_code() const { return signal ? 128 + signal : code; }
};

// A running child and the parent's ends of its pipes. Move-only. Destroyed
// before wait(), it kills the child (SIGKILL) and reaps it: a child never
// outlives, unwaited, the code that started it.
class Process {
 public:
  Process() = default;
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  ~Process();

  pid_t pid() const { return pid_; }
  UniqueFd& stdin_pipe() { return in_; }    // write end; invalid unless in = pipe
  UniqueFd& stdout_pipe() { return out_; }  // read end
  UniqueFd& stderr_pipe() { return err_; }  // read end

  // Sends `sig` to the child; ok if it has already exited.
  Status signal(int sig);
  // Waits for the child to end (retrying EINTR). Call once.
  Result<ExitStatus> wait();
  // How it ended if it has, without blocking; none while it runs. Once it
  // returned a status, the child is reaped (as after wait()).
  Result<std::optional<ExitStatus>> try_wait();

 private:
  friend Result<Process> spawn(const SpawnOptions& options, int* exec_errno);
  pid_t pid_ = -1;
  bool reaped_ = true;
  UniqueFd in_, out_, err_;
};

// Starts `options.argv`. Fails (ErrorCode::failed, naming the program and
// the reason) when a pipe or redirection cannot be opened, or fork or exec
// fails; `exec_errno`, when given, receives exec's errno (0 for any other
// failure), e.g. to tell "not found" (127) from "not executable" (126).
Result<Process> spawn(const SpawnOptions& options, int* exec_errno = nullptr);

// Starts a background process that is nobody's child: a new session
// (setsid) and a second fork, so it never becomes a zombie of ours nor
// gets a controlling terminal; cwd "/" unless options.cwd; stdin always
// /dev/null; stdout and stderr as `options` say (pipes are refused: nobody
// would read them). Returns its PID once its exec has succeeded. Fails as
// spawn does.
Result<pid_t> spawn_detached(const SpawnOptions& options);

// Running, and not a zombie: a detached child that died waits for init (or
// whatever reaps orphans here) to reap it, which may take a while.
bool process_alive(pid_t pid);

}  // namespace cellar
