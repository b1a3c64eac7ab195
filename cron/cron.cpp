#include "cron/cron.h"

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>

#include "common/fs.h"
#include "common/log.h"
#include "common/poll_until.h"
#include "common/process.h"
#include "common/storage.h"
#include "config/layout.h"
#include "cron/maintenance.h"
#include "locks/lock_backend.h"
#include "locks/typed_lock.h"
#include "sync/sync.h"
#include "wal/archive.h"

namespace cellar::cron {
namespace {

// Who holds the lock: a process of this host, or somebody else (a process on
// another host, a client hold, or a lock manager that cannot answer, which
// must not make cron start a second one).
struct LockOwner {
  std::optional<pid_t> local_pid;
  std::string elsewhere;  // describe_owner() of a holder that is not a local process
  bool hold = false;      // a client hold (a maintenance window)
  explicit operator bool() const { return local_pid || !elsewhere.empty(); }
};

LockOwner lock_owner(const Config& config, locks::LockKind kind, const std::string& server) {
  auto owner = locks::lock_manager(config).owner({kind, server, ""});
  if (!owner) return {std::nullopt, "an unknown holder (" + owner.status().message() + ")", false};
  if (!*owner) return {};
  const locks::Owner& o = **owner;
  if (!o.is_hold() && o.pid && (o.host.empty() || o.host == locks::this_host())) {
    // etcd keeps a SIGKILLed holder's key until its lease ends: never treat
    // that PID (maybe reused by now) as our receiver.
    if (!process_alive(*o.pid))
      return {std::nullopt, "PID " + std::to_string(*o.pid) + ", which is gone (its lease ends soon)", false};
    return {*o.pid, ""};
  }
  return {std::nullopt, locks::describe_owner(o), o.is_hold()};
}

// --- one server ------------------------------------------------------------

class ServerPass {
 public:
  ServerPass(const CronOptions& o, const ServerConfig& s)
      : o_(o), config_(*o.config), s_(s), dir_(config_.server_dir(s.name)) {}

  // The steps, in Barman's order plus the backup ones; each failure is
  // reported and the pass goes on.
  bool run() {
    if (o_.supervise_receivers) step(supervise_receiver());  // 1. keep receive-wal running (or stopped)
    step(archive());                                         // 2. streaming/ and incoming/ → wals/
    step(settle_waiting_backups(config_, s_, o_.say));       // 3. WAITING_FOR_WALS → DONE/FAILED
    step(fail_dead_backups(config_, s_, o_.say));            // 4. dead STARTED → FAILED
    step(enforce_retention(config_, s_, o_.say));            // 5. OBSOLETE backups and their WAL
    step(start_scheduled_backup());                          // 6. backup_schedule
    return !failed_;
  }

 private:
  void step(Status st) {
    if (st) return;
    failed_ = true;
    log::error("cron of server '" + s_.name + "': " + st.message());
    o_.complain(st.prefix("cron of server '" + s_.name + "'"));
  }

  // `cellar COMMAND SERVER` in the background, its output appended to
  // `log_path` (or ours with keep_descriptors).
  Result<pid_t> spawn(const std::string& command, const std::string& log_path) {
    if (Status st = make_dirs(dir_); !st) return st;
    SpawnOptions c;
    c.argv = {o_.exe, "-c", o_.config_path, command, s_.name};
    c.out = c.err = o_.keep_descriptors ? Stdio::inherit() : Stdio::append_to(log_path);
    if (!o_.keep_descriptors) c.env = {std::string(log::kOutputFileEnv) + "=" + log_path};  // SIGHUP reopens it
    return spawn_detached(c);
  }

  Status supervise_receiver() {
    auto owner = lock_owner(config_, locks::LockKind::receive_wal, s_.name);
    if (owner.hold) o_.say("receive-wal of server '" + s_.name + "' is held by " + owner.elsewhere);
    if (!owner.elsewhere.empty()) {
      // Another host streams, or a client holds the lock: nothing to do here.
      log::debug("receive-wal of server '" + s_.name + "' is held by " + owner.elsewhere);
      return Status::ok();
    }
    if (!s_.streaming_archiver())
      return owner ? stop_receiver(*owner.local_pid, "streaming_archiver is off") : Status::ok();
    if (owner) {
      pid_t pid = *owner.local_pid;
      auto rec = load_process_record(layout::receive_wal_cron_file(dir_));
      bool ours = rec && rec->pid == pid;
      if (!ours || rec->value == receiver_fingerprint(s_)) {
        log::debug("receive-wal of server '" + s_.name + "' is running (PID " + std::to_string(pid) + ")");
        return Status::ok();
      }
      if (Status st = stop_receiver(pid, "its connection settings changed"); !st) return st;
    }
    return start_receiver();
  }

  Status start_receiver() {
    auto pid = spawn("receive-wal", layout::receive_wal_log_file(dir_));
    if (!pid) return pid.status();
    o_.say("Starting receive-wal for server '" + s_.name + "' (PID " + std::to_string(*pid) + ")");
    // Hold our cron lock until the child holds its lock (or died): the next
    // cron then sees it running, and the record names the receiver that runs.
    bool holds = poll_until(
        [&] {
          auto owner = lock_owner(config_, locks::LockKind::receive_wal, s_.name);
          return owner.local_pid == *pid || !process_alive(*pid);
        },
        std::chrono::milliseconds(2000), std::chrono::milliseconds(5));
    if (holds && lock_owner(config_, locks::LockKind::receive_wal, s_.name).local_pid == *pid)
      save_process_record(layout::receive_wal_cron_file(dir_), {*pid, receiver_fingerprint(s_)});
    return Status::ok();
  }

  Status stop_receiver(pid_t pid, const std::string& why) {
    o_.say("Stopping receive-wal of server '" + s_.name + "' (PID " + std::to_string(pid) + "): " + why);
    if (::kill(pid, SIGTERM) != 0 && errno != ESRCH)
      return Status::from_errno("could not signal receive-wal (PID " + std::to_string(pid) + ")", errno);
    bool stopped = poll_until([&] { return !lock_owner(config_, locks::LockKind::receive_wal, s_.name).local_pid; },
                              std::chrono::milliseconds(10000), std::chrono::milliseconds(5));
    if (!stopped)
      return Status::failed("receive-wal (PID " + std::to_string(pid) + ") did not stop within 10 s",
                            "the next cron retries; see \"" + layout::receive_wal_log_file(dir_) + "\"");
    return Status::ok();
  }

  Status archive() {
    auto options = wal::archive_options_for(config_, s_);
    if (!options) return options.status();
    auto report = wal::archive_wal(*options);
    if (!report && report.status().code() == ErrorCode::busy) {
      o_.say(report.status().message() + ": skipping WAL archiving");
      return Status::ok();
    }
    if (!report) return report.status();
    if (report->archived || report->catalogued || report->duplicates_dropped || !report->moved_to_errors.empty())
      o_.say(wal::summary_line(*report, s_.name));
    return Status::ok();
  }

  Status start_scheduled_backup() {
    auto schedule = s_.backup_schedule();
    if (!schedule) return Status::ok();
    if (auto owner = lock_owner(config_, locks::LockKind::backup, s_.name)) {  // one is running, or a hold
      if (owner.hold) o_.say("scheduled backups of server '" + s_.name + "' are held by " + owner.elsewhere);
      return Status::ok();
    }
    auto cat = catalog::load_catalogue(config_, s_.name);
    if (!cat) return cat.status();
    // The last attempt counts too, so a backup that fails at once is retried
    // at the next slot, not every minute.
    std::string attempt_path = layout::backup_cron_file(dir_);
    std::optional<std::time_t> last = last_backup_begin(*cat);
    if (auto rec = load_process_record(attempt_path); rec && (!last || static_cast<std::time_t>(rec->value) > *last))
      last = static_cast<std::time_t>(rec->value);
    std::time_t now = std::time(nullptr);
    if (!backup_due(*schedule, last, now)) return Status::ok();
    auto pid = spawn("backup", layout::backup_log_file(dir_));
    if (!pid) return pid.status();
    save_process_record(attempt_path, {*pid, static_cast<uint64_t>(now)});
    o_.say("Starting scheduled backup for server '" + s_.name + "' (PID " + std::to_string(*pid) + ")");
    return Status::ok();
  }

  const CronOptions& o_;
  const Config& config_;
  const ServerConfig& s_;
  std::string dir_;
  bool failed_ = false;
};

// A passive node never streams: it copies WAL and backups from the primary
// (at most one sync-backup per pass). A busy sync lock is information.
bool sync_passive(const CronOptions& o, const ServerConfig& s) {
  auto lines = sync::run_passive_sync(*o.config, s);
  if (!lines && lines.status().code() == ErrorCode::busy) {
    o.say(lines.status().message() + ": skipping to the next server");
    return true;
  }
  if (!lines) {
    o.complain(lines.status());
    return false;
  }
  for (const auto& line : *lines) o.say(line);
  return true;
}

// The server's cron lock around its pass; busy is a skip.
bool cron_server(const CronOptions& o, const ServerConfig& s) {
  if (!s.active()) {
    o.say("Skipping inactive server '" + s.name + "'");
    return true;
  }
  auto lock = locks::ServerCronLock::acquire(locks::lock_manager(*o.config), s.name);
  if (!lock && lock.status().code() == ErrorCode::busy) {
    o.say(lock.status().message() + ": skipping to the next server");
    return true;
  }
  if (!lock) {
    o.complain(lock.status());
    return false;
  }
  if (s.passive()) return sync_passive(o, s);
  return ServerPass(o, s).run();
}

}  // namespace

std::optional<ProcessRecord> load_process_record(const std::string& path) {
  auto text = read_file(path);
  if (!text) return std::nullopt;
  unsigned long long value = 0;
  long long pid = 0;
  if (std::sscanf(text->c_str(), "%lld %llu", &pid, &value) != 2) return std::nullopt;
  return ProcessRecord{pid, value};
}

void save_process_record(const std::string& path, const ProcessRecord& r) {
  Status st = storage::write_file(storage::root(), path, std::to_string(r.pid) + " " + std::to_string(r.value) + "\n");
  if (!st) log::warning(st.message());
}

uint64_t receiver_fingerprint(const ServerConfig& s) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (const std::string& part :
       {s.streaming_conninfo(), s.slot_name(), s.create_slot(), std::to_string(s.receive_wal_timeout().count())}) {
    for (unsigned char c : part + '\n') h = (h ^ c) * 1099511628211ULL;
  }
  return h;
}

Status run_cron(const CronOptions& o) {
  // 1. One cron at a time: a busy global lock is a skip.
  auto lock = locks::GlobalCronLock::acquire(locks::lock_manager(*o.config));
  if (!lock && lock.status().code() == ErrorCode::busy) {
    o.say(lock.status().message() + ": skipping this run");
    return Status::ok();
  }
  if (!lock) return lock.status();
  // 2. Every server, sorted by name, whatever happened to the previous ones.
  std::string failed;
  for (const ServerConfig& s : o.config->servers) {
    std::vector<std::string> errors;
    CronOptions each = o;
    each.complain = [&](const Status& st) {
      errors.push_back(st.message());
      o.complain(st);
    };
    bool ok = cron_server(each, s);
    if (!ok) failed += (failed.empty() ? "'" : ", '") + s.name + "'";
    if (o.server_done) o.server_done(s.name, errors);
  }
  if (failed.empty()) return Status::ok();
  return Status::failed("cron had errors on server(s) " + failed, "see the messages above and cellar's log file");
}

}  // namespace cellar::cron
