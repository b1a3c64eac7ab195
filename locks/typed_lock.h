// Locks as types (STYLE.md): Lock<Kind> is a held lock of one kind, so a
// function that needs it says so in its signature, e.g.
//   Status append_xlogdb(const XlogdbLock&, ...);
// acquire() asks the lock manager (lock_manager.h, whichever backend the
// configuration chose) for the resource named by the kind, server and backup
// id, with the kind's wait policy (xlogdb and sync-wal wait, bounded); a busy
// lock is ErrorCode::busy with the SPEC §2 message:
//   another backup is running for server 'main' (lock .main-backup.lock held
//   by PID 4711: cellar backup main)
// check_current() is the fencing check (SPEC §9) a commit into the
// repository makes under the lock.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "locks/lock_manager.h"

namespace cellar::locks {

// Default bound on waiting for the kinds that wait (xlogdb, sync-wal).
constexpr std::chrono::seconds kDefaultWaitBound{60};

// The file backend's "another X is running (lock F held by PID N: CMD)"
// message for a busy lock file of `name` in `lock_dir`.
std::string busy_message(const std::string& lock_dir, const LockName& name);

template <LockKind K>
class Lock {
 public:
  static Result<Lock> acquire(LockManager& locks, const std::string& server = "", const std::string& backup_id = "") {
    auto held = acquire_default(locks, LockName{K, server, backup_id});
    if (!held) return held.status();
    return Lock(std::move(*held));
  }
  static Result<Lock> acquire(LockManager& locks, const std::string& server, const std::string& backup_id,
                              const AcquireRequest& request) {
    auto held = locks.acquire(LockName{K, server, backup_id}, request);
    if (!held) return held.status();
    return Lock(std::move(*held));
  }
  const HeldLock& held() const { return *held_; }
  uint64_t token() const { return held_->token(); }
  // OK while this acquisition is still the current holder (fencing).
  Status check_current() const { return held_->check_current(); }
  bool lost() const { return held_->lost(); }

 private:
  explicit Lock(std::unique_ptr<HeldLock> held) : held_(std::move(held)) {}
  std::unique_ptr<HeldLock> held_;
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
