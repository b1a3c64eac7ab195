#include "locks/run_locked.h"

#include <cerrno>
#include <cstring>

#include "common/process.h"
#include "common/signals.h"

namespace cellar::locks {
namespace {

CommandOutcome not_started(const std::string& program, const Status& why, int exec_errno) {
  if (exec_errno == 0) return {1, why};
  bool missing = exec_errno == ENOENT;
  return {missing ? 127 : 126,
          Status::failed("cannot run \"" + program + "\": " + std::strerror(exec_errno),
                         missing ? "check the command name and PATH" : "check the file's permissions")};
}

}  // namespace

CommandOutcome run_holding(const HeldLock& lock, const std::vector<std::string>& argv) {
  (void)lock;  // held by this process for as long as this function runs
  if (argv.empty()) return {2, Status::usage("no command to run")};
  // Until the forwarder knows the child, a SIGTERM waits instead of killing
  // us and leaving the command running without its lock.
  signals::Blocked blocked;
  int exec_errno = 0;
  SpawnOptions command;
  command.argv = argv;
  command.search_path = true;
  auto child = spawn(command, &exec_errno);
  if (!child) return not_started(argv[0], child.status(), exec_errno);
  signals::Forwarder forward(child->pid());
  blocked.restore();
  auto status = child->wait();
  if (!status) return {1, status.status()};
  return {status->shell_code(), Status::ok()};
}

}  // namespace cellar::locks
