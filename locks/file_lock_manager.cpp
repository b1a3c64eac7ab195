#include "locks/file_lock_manager.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <thread>

#include "common/fs.h"
#include "common/json.h"
#include "common/storage.h"
#include "locks/kernel_locks.h"
#include "locks/lock_file.h"
#include "locks/typed_lock.h"

namespace cellar::locks {
namespace {

using Clock = std::chrono::steady_clock;

// How often a waiting acquirer looks again while a client hold blocks it
// (the flock itself is waited for by LockFile).
constexpr std::chrono::milliseconds kHoldPoll{100};

std::string seconds_text(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

int64_t now_seconds() { return static_cast<int64_t>(std::time(nullptr)); }

// --- the token file ------------------------------------------------------

Result<uint64_t> read_token(int fd, const std::string& path) {
  char buf[32];
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n < 0) return Status::from_errno("cannot read fencing token file \"" + path + "\"", errno);
  buf[n] = '\0';
  return static_cast<uint64_t>(std::strtoull(buf, nullptr, 10));  // garbage or empty reads as 0
}

// Precondition: the resource's flock is held. Returns the new token.
Result<uint64_t> bump_token(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600));
  if (!fd.valid()) return Status::from_errno("cannot open fencing token file \"" + path + "\"", errno);
  auto old = read_token(fd.get(), path);
  if (!old) return old.status();
  uint64_t next = *old + 1;
  std::string text = std::to_string(next) + "\n";
  if (::pwrite(fd.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()) ||
      ::ftruncate(fd.get(), static_cast<off_t>(text.size())) != 0)
    return Status::from_errno("cannot write fencing token file \"" + path + "\"", errno);
  return next;
}

Result<uint64_t> current_token(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return uint64_t{0};
    return Status::from_errno("cannot open fencing token file \"" + path + "\"", errno);
  }
  return read_token(fd.get(), path);
}

// --- the hold file ---------------------------------------------------------

Json hold_json(const Owner& o) {
  Json j = Json::object();
  j.set("client", o.client);
  j.set("reason", o.reason);
  j.set("host", o.host);
  j.set("since", o.since);
  j.set("expires", o.expires ? Json(*o.expires) : Json());
  j.set("token", static_cast<int64_t>(o.token));
  return j;
}

std::string string_field(const Json& j, const char* key) {
  const Json* v = j.find(key);
  return v && v->is_string() ? v->as_string() : "";
}

// The hold recorded at `path`: none when there is no file. A file that does
// not parse is a hold by an unknown client (it blocks, and shows up in
// `holds`, rather than silently freeing the resource).
Result<std::optional<Owner>> load_hold(const std::string& path) {
  if (!path_exists(path)) return std::optional<Owner>();
  auto text = read_file(path);
  if (!text) {
    if (!path_exists(path)) return std::optional<Owner>();
    return text.status();
  }
  Owner o;
  auto j = Json::parse(*text);
  if (!j || !j->is_object() || string_field(*j, "client").empty()) {
    o.client = "?";
    o.reason = "unparsable hold file \"" + path + "\"";
    return std::optional<Owner>(o);
  }
  o.client = string_field(*j, "client");
  o.reason = string_field(*j, "reason");
  o.host = string_field(*j, "host");
  if (const Json* v = j->find("since"); v && v->is_int()) o.since = v->as_int();
  if (const Json* v = j->find("expires"); v && v->is_int()) o.expires = v->as_int();
  if (const Json* v = j->find("token"); v && v->is_int()) o.token = static_cast<uint64_t>(v->as_int());
  return std::optional<Owner>(o);
}

bool expired(const Owner& hold) { return hold.expires && *hold.expires <= now_seconds(); }

Status remove_hold_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return Status::from_errno("cannot remove hold file \"" + path + "\"", errno);
  return fsync_dir(dirname_of(path));
}

Status busy_with_hold(const LockName& name, const Owner& hold) {
  return Status::busy(busy_phrase(name) + " (held by " + describe_owner(hold) + ")")
      .with_hint("the client releases it with 'cellar release " + std::string(kind_name(name.kind)) +
                 (name.server.empty() ? "" : " " + name.server) + (name.backup_id.empty() ? "" : " " + name.backup_id) +
                 " --client " + hold.client + "'");
}

Status busy_with_process(const std::string& lock_dir, const LockName& name, bool waited,
                         std::optional<std::chrono::milliseconds> timeout) {
  Status busy = Status::busy(busy_message(lock_dir, name));
  if (waited && timeout)
    busy.with_detail("gave up after waiting " + seconds_text(*timeout));
  else
    busy.with_hint("wait until it finishes, or see 'cellar locks" + (name.server.empty() ? "" : " " + name.server) +
                   "'");
  return busy;
}

class FileHeldLock : public HeldLock {
 public:
  FileHeldLock(LockName name, LockFile file, std::string token_path, uint64_t token)
      : name_(std::move(name)), file_(std::move(file)), token_path_(std::move(token_path)), token_(token) {}
  const LockName& name() const override { return name_; }
  uint64_t token() const override { return token_; }
  bool lost() const override { return false; }
  void release() override { file_.release(); }
  Status check_current() const override {
    auto now = current_token(token_path_);
    if (!now) return now.status();
    if (file_.held() && *now == token_) return Status::ok();
    return Status::failed("lock " + make_resource_name(name_) + " is no longer ours (fencing token " +
                              std::to_string(token_) + ", current " + std::to_string(*now) + ")",
                          "another process took the lock over; nothing was committed");
  }

 private:
  LockName name_;
  LockFile file_;
  std::string token_path_;
  uint64_t token_;
};

class FileLockManager : public LockManager {
 public:
  explicit FileLockManager(std::string lock_dir) : dir_(std::move(lock_dir)) {}
  std::string backend() const override { return "file"; }
  std::string where() const override { return "\"" + dir_ + "\""; }

  Result<std::unique_ptr<HeldLock>> acquire(const LockName& name, const AcquireRequest& request) override {
    if (Status st = validate_lock_name(name); !st) return st;
    std::optional<Clock::time_point> deadline;
    if (request.wait && request.timeout) deadline = Clock::now() + *request.timeout;
    for (;;) {
      LockFile file(lock_path(name), true, request.wait);
      AcquireOptions options;
      if (deadline) options.timeout = left_until(*deadline);
      auto got = file.acquire(options);
      if (!got) {
        if (got.status().code() != ErrorCode::busy) return got.status();
        return busy_with_process(dir_, name, request.wait, request.timeout);
      }
      auto hold = active_hold(name);
      if (!hold) return hold.status();
      if (!*hold) return held_lock(name, std::move(file));
      file.release();
      if (!request.wait || (deadline && Clock::now() >= *deadline)) return busy_with_hold(name, **hold);
      std::this_thread::sleep_for(deadline ? std::min(kHoldPoll, left_until(*deadline)) : kHoldPoll);
    }
  }

  Result<std::optional<Owner>> owner(const LockName& name) override {
    if (auto pid = LockFile(lock_path(name)).owner_pid()) {
      Owner o;
      o.host = this_host();
      o.pid = *pid;
      o.command = command_line_of(*pid);
      return std::optional<Owner>(o);
    }
    auto hold = load_hold(hold_path(name));
    if (!hold) return hold.status();
    if (*hold && expired(**hold)) return std::optional<Owner>();
    return *hold;
  }

  Result<HoldOutcome> hold(const HoldRequest& request) override {
    const LockName& name = request.name;
    if (Status st = validate_lock_name(name); !st) return st;
    if (Status st = validate_client_name(request.client); !st) return st;
    LockFile file(lock_path(name), true, false);
    AcquireOptions briefly;
    briefly.update_pid = false;  // the lock file keeps naming the last process holder
    auto got = file.acquire(briefly);
    if (!got) {
      if (got.status().code() != ErrorCode::busy) return got.status();
      auto pid = LockFile(lock_path(name)).owner_pid();
      return Status::busy("resource already held by " +
                          (pid ? "PID " + std::to_string(*pid) : std::string("another process")))
          .with_hint("see 'cellar locks'");
    }
    auto existing = load_hold(hold_path(name));
    if (!existing) return existing.status();
    bool renew = *existing && !expired(**existing) && (*existing)->client == request.client;
    if (*existing && !expired(**existing) && !renew)
      return Status::busy("resource already held by '" + (*existing)->client + "'")
          .with_hint("see 'cellar holds" + (name.server.empty() ? "" : " " + name.server) + "'");
    Owner o;
    o.client = request.client;
    o.reason = request.reason;
    o.host = this_host();
    o.since = renew ? (*existing)->since : now_seconds();
    if (request.ttl) o.expires = now_seconds() + request.ttl->count();
    auto token = bump_token(token_path(name));
    if (!token) return token.status();
    o.token = *token;
    if (Status st = storage::write_file(storage::root(), hold_path(name), hold_json(o).dump(0) + "\n"); !st) return st;
    return renew ? HoldOutcome::renewed : HoldOutcome::taken;
  }

  Status release_hold(const LockName& name, const std::string& client) override {
    if (Status st = validate_lock_name(name); !st) return st;
    if (Status st = validate_client_name(client); !st) return st;
    // Under the flock, so that no acquirer sees a half-removed state; the
    // flock is only ever held briefly while a hold exists.
    LockFile file(lock_path(name), true, true);
    AcquireOptions options;
    options.timeout = std::chrono::seconds(10);
    options.update_pid = false;
    auto got = file.acquire(options);
    if (!got) {
      auto pid = LockFile(lock_path(name)).owner_pid();
      if (got.status().code() == ErrorCode::busy && pid)
        return Status::failed("resource held by PID " + std::to_string(*pid) + " cannot be released by '" + client +
                              "'");
      return got.status();
    }
    auto hold = load_hold(hold_path(name));
    if (!hold) return hold.status();
    if (!*hold) return Status::failed("resource not held");
    if (expired(**hold)) {
      if (Status st = remove_hold_file(hold_path(name)); !st) return st;
      return Status::failed("resource not held", "the hold of '" + (*hold)->client + "' had expired");
    }
    if ((*hold)->client != client)
      return Status::failed("resource held by '" + (*hold)->client + "' cannot be released by '" + client + "'");
    return remove_hold_file(hold_path(name));
  }

  Result<std::vector<Hold>> holds(const std::string& server) override {
    auto names = list_dir(dir_);
    if (!names) return names.status();
    std::vector<Hold> out;
    for (const auto& file : *names) {
      auto name = parse_hold_file_name(file);
      if (!name || (!server.empty() && name->server != server)) continue;
      auto hold = load_hold(join_path(dir_, file));
      if (!hold) return hold.status();
      if (*hold) out.push_back({*name, **hold, expired(**hold)});
    }
    return out;
  }

  Result<std::vector<LockEntry>> list(const ScanOptions& options) override {
    ScanOptions all = options;
    all.stale_only = false;
    auto entries = scan_locks(dir_, all);
    if (!entries) return entries.status();
    auto hs = holds(options.server);
    if (!hs) return hs.status();
    for (const Hold& h : *hs) merge_hold(*entries, h);
    if (options.stale_only) std::erase_if(*entries, [](const LockEntry& e) { return e.held && !e.expired; });
    return entries;
  }

  std::vector<CleanResult> clean(const std::vector<LockEntry>& entries) override {
    std::vector<LockEntry> free_files;
    std::vector<CleanResult> out;
    for (const LockEntry& e : entries) {
      if (e.expired && e.name) out.push_back(clean_expired_hold(*e.name, e.file));
      if (!e.held || e.expired) free_files.push_back(e);
    }
    for (auto& r : clean_locks(dir_, free_files)) out.push_back(std::move(r));
    return out;
  }

 private:
  std::string lock_path(const LockName& n) const { return join_path(dir_, make_lock_file_name(n)); }
  std::string hold_path(const LockName& n) const { return join_path(dir_, make_hold_file_name(n)); }
  std::string token_path(const LockName& n) const { return join_path(dir_, make_token_file_name(n)); }

  static std::chrono::milliseconds left_until(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return std::max(left, std::chrono::milliseconds(0));
  }

  // Precondition: the flock of `name` is held. An expired hold is removed.
  Result<std::optional<Owner>> active_hold(const LockName& name) {
    auto hold = load_hold(hold_path(name));
    if (!hold || !*hold || !expired(**hold)) return hold;
    if (Status st = remove_hold_file(hold_path(name)); !st) return st;
    return std::optional<Owner>();
  }

  Result<std::unique_ptr<HeldLock>> held_lock(const LockName& name, LockFile file) {
    auto token = bump_token(token_path(name));
    if (!token) return token.status();
    return std::unique_ptr<HeldLock>(std::make_unique<FileHeldLock>(name, std::move(file), token_path(name), *token));
  }

  static void merge_hold(std::vector<LockEntry>& entries, const Hold& h) {
    std::string file = make_lock_file_name(h.name);
    auto it = std::find_if(entries.begin(), entries.end(), [&](const LockEntry& e) { return e.file == file; });
    if (it == entries.end()) {
      LockEntry e;
      e.file = file;
      e.name = h.name;
      it = entries.insert(std::upper_bound(entries.begin(), entries.end(), e,
                                           [](const LockEntry& x, const LockEntry& y) { return x.file < y.file; }),
                          e);
    }
    it->held = it->held || !h.expired;
    it->expired = h.expired && !it->pid;
    it->client = h.owner.client;
    it->reason = h.owner.reason;
    it->host = h.owner.host;
    it->expires = h.owner.expires;
    if (!it->pid) it->age_seconds = now_seconds() - h.owner.since;
  }

  CleanResult clean_expired_hold(const LockName& name, const std::string& file) {
    LockFile lock(lock_path(name), false, false);
    AcquireOptions options;
    options.update_pid = false;
    auto got = lock.acquire(options);
    if (!got) return {file, CleanOutcome::failed, got.status()};
    if (!*got) return {file, CleanOutcome::held, Status::ok()};
    auto hold = load_hold(hold_path(name));
    if (!hold) return {file, CleanOutcome::failed, hold.status()};
    if (!*hold || !expired(**hold)) return {file, *hold ? CleanOutcome::held : CleanOutcome::gone, Status::ok()};
    Status st = remove_hold_file(hold_path(name));
    return {make_hold_file_name(name), st ? CleanOutcome::removed : CleanOutcome::failed, st};
  }

  std::string dir_;
};

}  // namespace

std::unique_ptr<LockManager> make_file_lock_manager(std::string lock_dir) {
  return std::make_unique<FileLockManager>(std::move(lock_dir));
}

}  // namespace cellar::locks
