// Locks as types (STYLE.md): Lock<Kind> is a held lock of one kind, so a
// function that needs it says so in its signature, e.g.
//   Status append_xlogdb(const XlogdbLock&, ...);
// acquire() builds the file name from the kind, server and backup id, applies
// the kind's wait policy (xlogdb and sync-wal wait, bounded), and turns a busy
// lock into ErrorCode::busy with the SPEC §2 message:
//   another backup is running for server 'main' (lock .main-backup.lock held
//   by PID 4711: cellar backup main)
#pragma once

#include <chrono>
#include <string>

#include "locks/lock_file.h"
#include "locks/lock_names.h"

namespace cellar::locks {

// Default bound on waiting for the kinds that wait (xlogdb, sync-wal).
constexpr std::chrono::seconds kDefaultWaitBound{60};

// Acquires a lock of `name` in `lock_dir` per its kind's wait policy; busy and
// timeout give ErrorCode::busy with a message naming the holder.
Result<LockFile> acquire_lock(const std::string& lock_dir, const LockName& name);
// Same, with an explicit wait choice (timeout none = forever).
Result<LockFile> acquire_lock(const std::string& lock_dir, const LockName& name, bool wait,
                              std::optional<std::chrono::milliseconds> timeout);

// The "another X is running ..." message for a busy lock of `name`.
std::string busy_message(const std::string& lock_dir, const LockName& name);

template <LockKind K>
class Lock {
 public:
  static Result<Lock> acquire(const std::string& lock_dir, const std::string& server = "",
                              const std::string& backup_id = "") {
    auto file = acquire_lock(lock_dir, LockName{K, server, backup_id});
    if (!file) return file.status();
    return Lock(std::move(*file));
  }
  const LockFile& file() const { return file_; }

 private:
  explicit Lock(LockFile file) : file_(std::move(file)) {}
  LockFile file_;
};

using GlobalCronLock = Lock<LockKind::global_cron>;
using ConfigUpdateLock = Lock<LockKind::config_update>;
using ServerBackupLock = Lock<LockKind::backup>;
using ServerCronLock = Lock<LockKind::cron>;
using XlogdbLock = Lock<LockKind::xlogdb>;
using ArchiveWalLock = Lock<LockKind::archive_wal>;
using ReceiveWalLock = Lock<LockKind::receive_wal>;
using SyncWalLock = Lock<LockKind::sync_wal>;
using BackupIdLock = Lock<LockKind::backup_id>;
using SyncBackupLock = Lock<LockKind::sync_backup>;

}  // namespace cellar::locks
