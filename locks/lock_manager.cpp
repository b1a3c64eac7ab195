#include "locks/lock_manager.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>

#include "common/log.h"
#include "common/signals.h"
#include "common/time_text.h"
#include "config/names.h"
#include "locks/typed_lock.h"

namespace cellar::locks {
namespace {

std::string utc_text(int64_t unix_seconds) { return format_utc(static_cast<std::time_t>(unix_seconds)); }

LostLockHandler& lost_lock_handler() {
  static LostLockHandler handler = [](const std::string& resource) {
    log::error("lost lock " + resource + ": its etcd lease could not be renewed in time; stopping what it protects");
    // As a SIGTERM from outside would: receive-wal stops cleanly, `cellar
    // lock` passes it on to its command, any other command ends at once
    // (its work stays unpublished: nothing is committed without the lock).
    signals::request_stop();
    ::kill(::getpid(), SIGTERM);
  };
  return handler;
}

}  // namespace

void set_default_on_lost(LostLockHandler handler) { lost_lock_handler() = std::move(handler); }
const LostLockHandler& default_on_lost() { return lost_lock_handler(); }

const std::string& this_host() {
  static const std::string host = [] {
    if (const char* set = std::getenv("CELLAR_HOSTNAME"); set && *set) return std::string(set);
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return std::string("localhost");
    return std::string(buf);
  }();
  return host;
}

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

std::string describe_owner(const Owner& owner) {
  if (owner.is_hold()) {
    std::string text = "client '" + owner.client + "'";
    if (owner.since > 0) text += " since " + utc_text(owner.since);
    if (!owner.reason.empty()) text += ": " + owner.reason;
    return text;
  }
  std::string text = owner.pid ? "PID " + std::to_string(*owner.pid) : std::string("another process");
  if (!owner.host.empty() && owner.host != this_host()) text += " on host " + owner.host;
  if (!owner.command.empty()) text += ": " + owner.command;
  return text;
}

Status validate_client_name(const std::string& client) {
  bool ok = !client.empty() && client.size() <= 64;
  for (char c : client)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
                c == '@' || c == ':' || c == '-');
  if (ok) return Status::ok();
  return Status::usage("invalid client name \"" + client + "\"", "a client name is 1-64 of A-Z a-z 0-9 _ . @ : -");
}

Status validate_lock_name(const LockName& name) {
  if (is_global(name.kind)) return Status::ok();
  if (Status st = validate_server_name(name.server); !st) return st;
  if (needs_backup_id(name.kind) && !is_backup_id(name.backup_id))
    return Status::usage("invalid backup id \"" + name.backup_id + "\"", "a backup id looks like 20240101T000000");
  return Status::ok();
}

Result<std::unique_ptr<HeldLock>> acquire_default(LockManager& manager, const LockName& name) {
  AcquireRequest request;
  request.wait = waits_by_default(name.kind);
  if (request.wait) request.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(kDefaultWaitBound);
  return manager.acquire(name, request);
}

}  // namespace cellar::locks
