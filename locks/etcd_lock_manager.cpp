#include "locks/etcd_lock_manager.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <thread>

#include "common/fs.h"
#include "common/log.h"
#include "common/redact.h"
#include "common/signals.h"
#include "etcd/client.h"
#include "locks/etcd_lease.h"
#include "locks/etcd_records.h"
#include "locks/kernel_locks.h"

namespace cellar::locks {
namespace {

using Clock = std::chrono::steady_clock;

// How often a take is tried again when its key changed under it (deleted,
// replaced, an expired hold removed by someone else) before giving up.
constexpr int kRounds = 8;

int64_t unix_now() { return static_cast<int64_t>(std::time(nullptr)); }

Status validated(const LockName& name) {
  auto made = make_lock_name(kind_name(name.kind), name.server, name.backup_id);
  return made ? Status::ok() : made.status();
}

std::string resource_text(const LockName& name, uint64_t token) {
  return "lock " + make_resource_name(name) + " (token " + std::to_string(token) + ")";
}

class EtcdHeldLock : public HeldLock {
 public:
  EtcdHeldLock(std::shared_ptr<etcd::Client> client, std::shared_ptr<LeaseKeeper> keeper, LockName name,
               std::string key, uint64_t token, std::shared_ptr<LeaseWatch> watch)
      : client_(std::move(client)),
        keeper_(std::move(keeper)),
        name_(std::move(name)),
        key_(std::move(key)),
        token_(token),
        watch_(std::move(watch)) {}
  ~EtcdHeldLock() override { release(); }

  const LockName& name() const override { return name_; }
  uint64_t token() const override { return token_; }
  bool lost() const override { return watch_->lost; }
  Status check_current() const override;
  void release() override;

 private:
  std::shared_ptr<etcd::Client> client_;
  std::shared_ptr<LeaseKeeper> keeper_;
  LockName name_;
  std::string key_;
  uint64_t token_;
  std::shared_ptr<LeaseWatch> watch_;
  bool released_ = false;
};

// Reads the key first even when the lock is known lost, so that the answer
// names whoever holds it now.
Status EtcdHeldLock::check_current() const {
  const std::string what = resource_text(name_, token_);
  auto kv = client_->get(key_);
  if (!kv) return Status::failed(what + " cannot be checked: " + kv.status().message(), kv.status().hint());
  if (!*kv) return Status::failed(what + " is no longer held: its key \"" + key_ + "\" is gone");
  const etcd::KeyValue& now = **kv;
  if (static_cast<uint64_t>(now.create_revision) != token_)
    return Status::failed(what + " was superseded by token " + std::to_string(now.create_revision) + ", held by " +
                          describe_holder(parse_record(now.value)));
  if (now.lease != watch_->lease)
    return Status::failed(what + " was overwritten by " + describe_holder(parse_record(now.value)));
  // Still our key, but past the renewal deadline (the keeper thread may not
  // have noticed yet, e.g. right after SIGCONT): etcd may expire it any moment.
  if (watch_->lost || keeper_->past_deadline(watch_->lease))
    return Status::failed(what + " was lost: its etcd lease could not be renewed in time",
                          "check the network to etcd and etcd's health");
  return Status::ok();
}

void EtcdHeldLock::release() {
  if (released_) return;
  released_ = true;
  keeper_->unwatch(watch_.get());
  // A lost lock's lease could not be renewed: its key ends with the lease,
  // and asking etcd (likely unreachable) would only delay the stop.
  if (watch_->lost) return;
  auto deleted = client_->delete_if_create_revision(key_, static_cast<int64_t>(token_));
  if (!deleted)
    log::warning("could not release " + resource_text(name_, token_) + ": " + deleted.status().message() +
                 "; it ends when its lease expires");
}

class EtcdLockManager : public LockManager {
 public:
  EtcdLockManager(EtcdOptions options, etcd::ClientOptions client_options, Status setup)
      : options_(std::move(options)),
        setup_(std::move(setup)),
        client_(std::make_shared<etcd::Client>(std::move(client_options))),
        keeper_(std::make_shared<LeaseKeeper>(client_, options_.ttl)) {}

  std::string backend() const override { return "etcd"; }
  std::string where() const override {
    return "etcd " + client_->endpoints_text() + " prefix \"" + options_.prefix + "\"";
  }
  Result<std::unique_ptr<HeldLock>> acquire(const LockName& name, const AcquireRequest& request) override;
  Result<std::optional<Owner>> owner(const LockName& name) override;
  Result<HoldOutcome> hold(const HoldRequest& request) override;
  Status release_hold(const LockName& name, const std::string& client) override;
  Result<std::vector<Hold>> holds(const std::string& server) override;
  Result<std::vector<LockEntry>> list(const ScanOptions& options) override;
  std::vector<CleanResult> clean(const std::vector<LockEntry>& entries) override;

 private:
  // One try at the process lock: the lock, or who holds it.
  struct Attempt {
    std::unique_ptr<HeldLock> lock;
    EtcdRecord holder;
  };
  Result<Attempt> attempt(const LockName& name, const AcquireRequest& request);
  std::string key_of(const LockName& name) const { return options_.prefix + make_resource_name(name); }
  Status usable(const LockName& name) const { return setup_ ? validated(name) : setup_; }
  CleanResult clean_one(const LockEntry& entry);

  EtcdOptions options_;
  Status setup_;  // not ok when the options cannot work (no endpoints, unreadable password)
  std::shared_ptr<etcd::Client> client_;
  std::shared_ptr<LeaseKeeper> keeper_;
};

Result<EtcdLockManager::Attempt> EtcdLockManager::attempt(const LockName& name, const AcquireRequest& request) {
  const std::string key = key_of(name);
  for (int round = 0; round < kRounds; ++round) {
    auto lease = keeper_->lease();
    if (!lease) return lease.status();
    Owner me;
    me.host = this_host();
    me.pid = ::getpid();
    me.command = redact_secrets(command_line_of(::getpid()));  // visible from every host
    me.since = unix_now();
    auto created = client_->create(key, make_process_record(me), *lease);
    if (!created && created.status().message().find("lease not found") != std::string::npos) {
      keeper_->forget(*lease);  // expired while we were not looking: take a new one
      continue;
    }
    if (!created) return created.status();
    if (created->created) {
      auto watch = std::make_shared<LeaseWatch>();
      watch->lease = *lease;
      watch->on_lost =
          request.on_lost ? request.on_lost : [resource = make_resource_name(name)] { default_on_lost()(resource); };
      if (!keeper_->watch(watch)) {  // the lease was lost between create and now
        (void)client_->delete_if_create_revision(key, created->revision);
        continue;
      }
      return Attempt{
          std::make_unique<EtcdHeldLock>(client_, keeper_, name, key, static_cast<uint64_t>(created->revision), watch),
          {}};
    }
    if (!created->existing) continue;  // deleted in between
    EtcdRecord holder = parse_record(created->existing->value);
    if (!expired_at(holder, unix_now())) return Attempt{nullptr, holder};
    auto deleted = client_->delete_if_mod_revision(key, created->existing->mod_revision);
    if (!deleted) return deleted.status();
  }
  return Status::failed("lock " + make_resource_name(name) + " could not be taken: its key \"" + key +
                        "\" kept changing");
}

Status busy_status(const LockName& name, const EtcdRecord& holder, std::optional<std::chrono::milliseconds> waited) {
  Status busy = Status::busy(busy_phrase(name) + " (lock " + make_resource_name(name) + " held by " +
                             describe_holder(holder) + ")");
  const std::string see = name.server.empty() ? "" : " " + name.server;
  if (waited)
    busy.with_detail("gave up after waiting " + std::to_string(waited->count()) + " ms");
  else if (holder.kind == RecordKind::hold)
    busy.with_hint("client '" + holder.owner.client + "' holds it until released; see 'cellar holds" + see + "'");
  else
    busy.with_hint("wait until it finishes, or see 'cellar locks" + see + "'");
  return busy;
}

Result<std::unique_ptr<HeldLock>> EtcdLockManager::acquire(const LockName& name, const AcquireRequest& request) {
  if (Status st = usable(name); !st) return st;
  std::optional<Clock::time_point> deadline;
  if (request.wait && request.timeout) deadline = Clock::now() + *request.timeout;
  auto pause = std::chrono::milliseconds(50);
  for (;;) {
    auto tried = attempt(name, request);
    if (!tried) return tried.status();
    if (tried->lock) return std::move(tried->lock);
    if (!request.wait) return busy_status(name, tried->holder, std::nullopt);
    const auto now = Clock::now();
    if (deadline && now >= *deadline) return busy_status(name, tried->holder, request.timeout);
    auto nap = pause;
    if (deadline) nap = std::min(nap, std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - now));
    std::this_thread::sleep_for(nap);
    pause = std::min(pause * 2, std::chrono::milliseconds(500));
  }
}

Result<std::optional<Owner>> EtcdLockManager::owner(const LockName& name) {
  if (Status st = usable(name); !st) return st;
  auto kv = client_->get(key_of(name));
  if (!kv) return kv.status();
  if (!*kv) return std::optional<Owner>();
  EtcdRecord record = parse_record((*kv)->value);
  if (expired_at(record, unix_now())) return std::optional<Owner>();
  record.owner.token = static_cast<uint64_t>((*kv)->create_revision);
  return std::optional<Owner>(record.owner);
}

Result<HoldOutcome> EtcdLockManager::hold(const HoldRequest& request) {
  if (Status st = usable(request.name); !st) return st;
  if (Status st = validate_client_name(request.client); !st) return st;
  const std::string key = key_of(request.name);
  for (int round = 0; round < kRounds; ++round) {
    Owner me;
    me.host = this_host();
    me.client = request.client;
    me.reason = request.reason;
    me.since = unix_now();
    if (request.ttl) me.expires = me.since + request.ttl->count();
    auto created = client_->create(key, make_hold_record(me));
    if (!created) return created.status();
    if (created->created) return HoldOutcome::taken;
    if (!created->existing) continue;
    const etcd::KeyValue& existing = *created->existing;
    const EtcdRecord holder = parse_record(existing.value);
    const bool expired = expired_at(holder, me.since);
    if (holder.kind == RecordKind::hold && holder.owner.client == request.client && !expired) {
      me.since = holder.owner.since;  // the same hold, with a new reason and TTL; its token stays
      auto put = client_->put_if_mod_revision(key, make_hold_record(me), existing.mod_revision);
      if (!put) return put.status();
      if (*put) return HoldOutcome::renewed;
      continue;
    }
    if (!expired) return Status::busy("resource already held by " + short_holder(holder));
    auto deleted = client_->delete_if_mod_revision(key, existing.mod_revision);
    if (!deleted) return deleted.status();
  }
  return Status::failed("hold on " + make_resource_name(request.name) + " could not be taken: its key \"" + key +
                        "\" kept changing");
}

Status EtcdLockManager::release_hold(const LockName& name, const std::string& client) {
  if (Status st = usable(name); !st) return st;
  const std::string key = key_of(name);
  for (int round = 0; round < kRounds; ++round) {
    auto kv = client_->get(key);
    if (!kv) return kv.status();
    if (!*kv) return Status::failed("resource not held");
    const EtcdRecord holder = parse_record((*kv)->value);
    const bool expired = expired_at(holder, unix_now());
    const bool ours = holder.kind == RecordKind::hold && holder.owner.client == client;
    if (!expired && !ours)
      return Status::failed("resource held by " + short_holder(holder) + " cannot be released by '" + client + "'");
    auto deleted = client_->delete_if_mod_revision(key, (*kv)->mod_revision);
    if (!deleted) return deleted.status();
    if (*deleted) return expired ? Status::failed("resource not held") : Status::ok();
  }
  return Status::failed("hold on " + make_resource_name(name) + " could not be released: its key \"" + key +
                        "\" kept changing");
}

Result<std::vector<Hold>> EtcdLockManager::holds(const std::string& server) {
  if (!setup_) return setup_;
  auto range = client_->range_prefix(options_.prefix);
  if (!range) return range.status();
  const int64_t now = unix_now();
  std::vector<Hold> out;
  for (const etcd::KeyValue& kv : range->kvs) {
    auto name = parse_resource_name(kv.key.substr(options_.prefix.size()));
    if (!name || (!server.empty() && name->server != server)) continue;
    EtcdRecord record = parse_record(kv.value);
    if (record.kind != RecordKind::hold) continue;
    record.owner.token = static_cast<uint64_t>(kv.create_revision);
    out.push_back({*name, record.owner, expired_at(record, now)});
  }
  return out;  // etcd ranges are sorted by key, so by resource
}

// One key as `cellar locks` shows it. `file` is the resource (the key
// without the prefix).
LockEntry entry_of(const etcd::KeyValue& kv, const std::string& resource, int64_t now, bool details) {
  LockEntry e;
  e.file = resource;
  e.name = parse_resource_name(resource);
  const EtcdRecord record = parse_record(kv.value);
  const Owner& o = record.owner;
  e.held = true;  // a key that exists keeps every acquirer out, whatever its value
  e.host = o.host;
  if (record.kind == RecordKind::process) {
    e.pid = o.pid;
    e.command = o.command;
  } else if (record.kind == RecordKind::hold) {
    e.client = o.client;
    e.reason = o.reason;
    e.expires = o.expires;
    e.expired = expired_at(record, now);
    e.held = !e.expired;
  } else {
    e.content = record.raw.substr(0, record.raw.find('\n'));
  }
  if (details && o.since > 0) e.age_seconds = now - o.since;
  return e;
}

Result<std::vector<LockEntry>> EtcdLockManager::list(const ScanOptions& options) {
  if (!setup_) return setup_;
  auto range = client_->range_prefix(options_.prefix);
  if (!range) return range.status();
  const int64_t now = unix_now();
  std::vector<LockEntry> out;
  for (const etcd::KeyValue& kv : range->kvs) {
    LockEntry e = entry_of(kv, kv.key.substr(options_.prefix.size()), now, options.details);
    if (!e.name && !options.all) continue;
    if (!options.server.empty() && e.server() != options.server) continue;
    if (options.stale_only && e.held) continue;
    out.push_back(std::move(e));
  }
  return out;
}

// Deletes the key of an expired hold, unless it changed since it was read.
CleanResult EtcdLockManager::clean_one(const LockEntry& entry) {
  const std::string key = options_.prefix + entry.file;
  auto kv = client_->get(key);
  if (!kv) return {entry.file, CleanOutcome::failed, kv.status()};
  if (!*kv) return {entry.file, CleanOutcome::gone, Status::ok()};
  if (!expired_at(parse_record((*kv)->value), unix_now())) return {entry.file, CleanOutcome::held, Status::ok()};
  auto deleted = client_->delete_if_mod_revision(key, (*kv)->mod_revision);
  if (!deleted) return {entry.file, CleanOutcome::failed, deleted.status()};
  return {entry.file, *deleted ? CleanOutcome::removed : CleanOutcome::held, Status::ok()};
}

std::vector<CleanResult> EtcdLockManager::clean(const std::vector<LockEntry>& entries) {
  std::vector<CleanResult> out;
  for (const LockEntry& e : entries)
    if (e.expired) out.push_back(clean_one(e));
  return out;
}

}  // namespace

std::unique_ptr<LockManager> make_etcd_lock_manager(EtcdOptions options) {
  etcd::ClientOptions client;
  client.endpoints = options.endpoints;
  client.ca_file = options.ca_file;
  client.cert_file = options.cert_file;
  client.key_file = options.key_file;
  client.user = options.user;
  Status setup;
  if (options.endpoints.empty()) setup = Status::usage("no etcd endpoints configured", "set etcd_endpoints");
  if (!options.password_file.empty()) {
    auto password = read_file(options.password_file);
    if (!password) {
      setup =
          Status::failed("cannot read the etcd password: " + password.status().message(), "check etcd_password_file");
    } else {
      client.password = *password;
      while (!client.password.empty() && (client.password.back() == '\n' || client.password.back() == '\r'))
        client.password.pop_back();
    }
  }
  return std::make_unique<EtcdLockManager>(std::move(options), std::move(client), std::move(setup));
}

}  // namespace cellar::locks
