// The lock primitive (SPEC §5.1, as barman.lockfile): a file in the lock
// directory opened O_CREAT|O_RDWR|O_CLOEXEC mode 0600, held with
// flock(LOCK_EX) on that open file description. The holder writes "<pid>\n"
// after locking (seek 0, write, ftruncate). Release unlocks and closes; the
// file stays. The kernel drops the lock when the holder dies, so a crashed
// process never leaves a lock held. Two LockFile objects on one path conflict
// even inside one process (separate open file descriptions).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

#include "common/fs.h"
#include "common/status.h"

namespace cellar::locks {

struct AcquireOptions {
  std::optional<bool> raise_if_fail;  // default: the constructor's
  std::optional<bool> wait;           // default: the constructor's
  bool update_pid = true;             // write "<pid>\n" once held
  // With wait: give up after this long (a busy error). None = wait forever.
  std::optional<std::chrono::milliseconds> timeout;
};

class LockFile {
 public:
  explicit LockFile(std::string path, bool raise_if_fail = true, bool wait = false);
  LockFile(LockFile&&) noexcept;
  LockFile& operator=(LockFile&&) noexcept;
  ~LockFile();  // releases

  // true: held now (also when this object already held it). false: busy and
  // raise_if_fail is off. Errors: busy (ErrorCode::busy, message names the path
  // and holder PID), permission denied (ErrorCode::failed, names the path),
  // any other errno (ErrorCode::failed).
  Result<bool> acquire(const AcquireOptions& options = {});
  void release();
  bool held() const { return fd_.valid(); }
  const std::string& path() const { return path_; }
  // The holder's PID per the kernel lock table, or none when free. Never
  // takes the lock (no side effect on concurrent acquirers).
  std::optional<pid_t> owner_pid() const;

 private:
  std::string path_;
  bool raise_if_fail_;
  bool wait_;
  UniqueFd fd_;
};

}  // namespace cellar::locks
