#include "locks/typed_lock.h"

#include <cstdio>

#include "common/fs.h"
#include "config/names.h"
#include "locks/kernel_locks.h"

namespace cellar::locks {
namespace {

// What a busy lock of `name` means to the user, before the "(lock ...)" part.
std::string busy_phrase(const LockName& name) {
  const std::string on = " for server '" + name.server + "'";
  switch (name.kind) {
    case LockKind::global_cron:
      return "another cron is running";
    case LockKind::config_update:
      return "another config-update is running";
    case LockKind::backup:
      return "another backup is running" + on;
    case LockKind::cron:
      return "another cron is running" + on;
    case LockKind::xlogdb:
      return "another process is writing xlog.db" + on;
    case LockKind::archive_wal:
      return "another archive-wal is running" + on;
    case LockKind::receive_wal:
      return "another receive-wal is running" + on;
    case LockKind::sync_wal:
      return "another sync-wal is running" + on;
    case LockKind::backup_id:
      return "backup " + name.backup_id + " of server '" + name.server + "' is in use";
    case LockKind::sync_backup:
      return "another sync-backup of backup " + name.backup_id + " is running" + on;
  }
  return "lock busy";
}

Status validate(const LockName& name) {
  if (is_global(name.kind)) return Status::ok();
  if (Status st = validate_server_name(name.server); !st) return st;
  if (needs_backup_id(name.kind) && !is_backup_id(name.backup_id))
    return Status::usage("invalid backup id \"" + name.backup_id + "\"", "a backup id looks like 20240101T000000");
  return Status::ok();
}

std::string seconds_text(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

}  // namespace

std::string busy_message(const std::string& lock_dir, const LockName& name) {
  const std::string file = make_lock_file_name(name);
  auto pid = LockFile(join_path(lock_dir, file)).owner_pid();
  std::string where = "lock " + file;
  if (!pid) return busy_phrase(name) + " (" + where + " is held by another process)";
  where += " held by PID " + std::to_string(*pid);
  if (std::string cmd = command_line_of(*pid); !cmd.empty()) where += ": " + cmd;
  return busy_phrase(name) + " (" + where + ")";
}

Result<LockFile> acquire_lock(const std::string& lock_dir, const LockName& name) {
  const bool wait = waits_by_default(name.kind);
  std::optional<std::chrono::milliseconds> bound;
  if (wait) bound = std::chrono::duration_cast<std::chrono::milliseconds>(kDefaultWaitBound);
  return acquire_lock(lock_dir, name, wait, bound);
}

Result<LockFile> acquire_lock(const std::string& lock_dir, const LockName& name, bool wait,
                              std::optional<std::chrono::milliseconds> timeout) {
  if (Status st = validate(name); !st) return st;
  LockFile file(join_path(lock_dir, make_lock_file_name(name)), true, wait);
  AcquireOptions options;
  options.timeout = timeout;
  auto got = file.acquire(options);
  if (got) return file;
  if (got.status().code() != ErrorCode::busy) return got.status();
  Status busy = Status::busy(busy_message(lock_dir, name));
  if (wait && timeout)
    busy.with_detail("gave up after waiting " + seconds_text(*timeout));
  else
    busy.with_hint("wait until it finishes, or see 'cellar locks" + (name.server.empty() ? "" : " " + name.server) +
                   "'");
  return busy;
}

}  // namespace cellar::locks
