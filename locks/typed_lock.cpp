#include "locks/typed_lock.h"

#include "common/fs.h"
#include "locks/kernel_locks.h"
#include "locks/lock_file.h"

namespace cellar::locks {

std::string busy_message(const std::string& lock_dir, const LockName& name) {
  const std::string file = make_lock_file_name(name);
  auto pid = LockFile(join_path(lock_dir, file)).owner_pid();
  std::string where = "lock " + file;
  if (!pid) return busy_phrase(name) + " (" + where + " is held by another process)";
  where += " held by PID " + std::to_string(*pid);
  if (std::string cmd = command_line_of(*pid); !cmd.empty()) where += ": " + cmd;
  return busy_phrase(name) + " (" + where + ")";
}

}  // namespace cellar::locks
