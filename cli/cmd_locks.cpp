// `cellar locks` (inspect the lock directory, SPEC §5.4) and `cellar lock`
// (run a command holding a typed lock, SPEC §1).
#include <algorithm>
#include <ctime>
#include <iostream>

#include "cli/handlers.h"
#include "common/fs.h"
#include "common/json.h"
#include "config/names.h"
#include "locks/inspect.h"
#include "locks/lock_backend.h"
#include "locks/run_locked.h"
#include "locks/typed_lock.h"

namespace cellar::cli {
namespace {

using locks::CleanOutcome;
using locks::LockEntry;

// --lock-directory DIR: the file backend on DIR; else the configured backend.
Result<locks::LockManager*> manager_of(const Invocation& inv) {
  if (inv.has("lock-directory")) return &locks::file_lock_manager(inv.str("lock-directory"));
  if (inv.config) return &locks::lock_manager(*inv.config);
  return Status::usage("no lock directory: no configuration file was found",
                       "give --lock-directory DIR, or a configuration with -c FILE");
}

Json entry_json(const LockEntry& e) {
  auto text_or_null = [](const std::string& s) { return s.empty() ? Json() : Json(s); };
  Json pid_in_file = e.pid_in_file ? Json(static_cast<int64_t>(*e.pid_in_file)) : text_or_null(e.content);
  Json o = Json::object();
  o.set("file", e.file);
  o.set("kind", e.kind());
  o.set("server", text_or_null(e.server()));
  o.set("backup_id", text_or_null(e.backup_id()));
  o.set("state", e.held ? "held" : "free");
  o.set("pid", e.pid ? Json(static_cast<int64_t>(*e.pid)) : Json());
  o.set("pid_in_file", std::move(pid_in_file));
  o.set("command", text_or_null(e.command));
  o.set("age_seconds", e.age_seconds);
  o.set("host", text_or_null(e.host));
  o.set("client", text_or_null(e.client));
  o.set("reason", text_or_null(e.reason));
  o.set("expires", e.expires ? Json(*e.expires) : Json());
  return o;
}

// Printable form of untrusted file content.
std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  return "\"" + out + "\"";
}

std::vector<std::string> entry_row(const LockEntry& e) {
  auto dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
  std::string in_file = e.pid_in_file       ? std::to_string(*e.pid_in_file)
                        : e.unreadable      ? "(unreadable)"
                        : e.content.empty() ? "-"
                                            : printable(e.content);
  std::string state = e.expired ? "expired" : e.held ? "held" : "free";
  std::string holder = e.client.empty() ? dash(e.command) : "client '" + e.client + "'";
  if (!e.client.empty() && !e.reason.empty()) holder += ": " + e.reason;
  if (e.expires) holder += " (TTL left " + std::to_string(std::max<int64_t>(0, *e.expires - std::time(nullptr))) + "s)";
  return {e.file,
          e.kind(),
          dash(e.server()),
          dash(e.backup_id()),
          state,
          e.pid ? std::to_string(*e.pid) : "-",
          in_file,
          std::to_string(e.age_seconds) + "s",
          dash(e.host),
          holder};
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

void render_entries(const Invocation& inv, const locks::LockManager& m, const std::vector<LockEntry>& entries) {
  if (inv.json()) {
    Json a = Json::array();
    for (const auto& e : entries) a.push(entry_json(e));
    std::cout << a.dump() << "\n";
    return;
  }
  if (entries.empty()) return info(inv, "no locks in " + m.where());
  std::vector<std::vector<std::string>> rows{{m.backend() == "file" ? "FILE" : "KEY", "KIND", "SERVER", "BACKUP_ID",
                                              "STATE", "PID", "PID_IN_FILE", "AGE", "HOST", "COMMAND"}};
  for (const auto& e : entries) rows.push_back(entry_row(e));
  print_table(rows);
}

// A removed file as a path (file backend), or an etcd key name.
std::string shown_path(const Invocation& inv, const locks::LockManager& m, const std::string& file) {
  if (m.backend() != "file") return file;
  std::string dir = inv.has("lock-directory") ? inv.str("lock-directory") : inv.config->lock_directory();
  return "\"" + join_path(dir, file) + "\"";
}

// --clean: removes the free ones; lists what was removed.
Status clean(const Invocation& inv, locks::LockManager& m, const std::vector<LockEntry>& entries) {
  std::vector<LockEntry> removed;
  Status failure;
  for (const auto& r : m.clean(entries)) {
    if (r.outcome == CleanOutcome::removed) {
      auto it = std::find_if(entries.begin(), entries.end(), [&](const LockEntry& e) { return e.file == r.file; });
      LockEntry e = it != entries.end() ? *it : LockEntry{};
      e.file = r.file;
      removed.push_back(e);
    } else if (r.outcome == CleanOutcome::failed) {
      failure = r.error;
    }
  }
  if (inv.json())
    render_entries(inv, m, removed);
  else
    for (const auto& e : removed) info(inv, "removed " + shown_path(inv, m, e.file));
  return failure;
}

std::string positional(const Invocation& inv, const char* name) { return inv.str(name); }

}  // namespace

void declare_locks(po::options_description& d) {
  d.add_options()("stale", "list only free (stale) lock files")(
      "clean", "remove free lock files (never one that is held or taken meanwhile)")(
      "all", "also list .*.lock files that match no lock kind")("lock-directory",
                                                                po::value<std::string>()->value_name("DIR"),
                                                                "inspect DIR instead of the configured lock_directory");
}

Outcome run_locks(Invocation& inv) {
  auto m = manager_of(inv);
  if (!m) return m.status();
  locks::ScanOptions options;
  options.server = positional(inv, "server");
  options.stale_only = inv.has("stale") || inv.has("clean");
  options.all = inv.has("all");
  if (!options.server.empty())
    if (Status st = validate_server_name(options.server); !st) return st;
  auto entries = (*m)->list(options);
  if (!entries) return entries.status();
  if (inv.has("clean")) return clean(inv, **m, *entries);
  render_entries(inv, **m, *entries);
  return Status::ok();
}

void declare_lock(po::options_description& d) {
  d.add_options()("wait", "wait for the lock instead of exiting 3 when it is busy")(
      "timeout", po::value<double>()->value_name("S"), "with --wait: give up after S seconds (exit 1)")(
      "lock-directory", po::value<std::string>()->value_name("DIR"),
      "lock directory (default: the configured lock_directory)");
}

Outcome run_lock(Invocation& inv) {
  auto name = locks::make_lock_name(positional(inv, "kind"), positional(inv, "server"), positional(inv, "backup_id"));
  if (!name) return name.status();
  if (inv.has("timeout") && !inv.has("wait")) return Status::usage("--timeout needs --wait");
  std::optional<std::chrono::milliseconds> timeout;
  if (inv.has("timeout")) {
    double s = inv.get<double>("timeout");
    if (!(s >= 0)) return Status::usage("invalid --timeout", "give a number of seconds");
    timeout = std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
  }
  if (inv.config && !inv.has("lock-directory") && !name->server.empty())
    if (auto s = find_configured_server(*inv.config, name->server); !s) return s.status();
  auto m = manager_of(inv);
  if (!m) return m.status();
  locks::AcquireRequest request;
  request.wait = inv.has("wait");
  request.timeout = timeout;
  auto lock = (*m)->acquire(*name, request);
  if (!lock) {
    // Busy after waiting is a timeout: the operation failed (exit 1).
    if (inv.has("wait") && lock.status().code() == ErrorCode::busy)
      return Status::failed("timed out waiting for the lock: " + lock.status().message())
          .with_detail(lock.status().detail());
    return lock.status();
  }
  auto outcome = locks::run_holding(**lock, inv.trailing);
  return Outcome::exit(outcome.exit_code, outcome.error);
}

}  // namespace cellar::cli
