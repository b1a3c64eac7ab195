// collect(): the facts of `cellar status` (check/status.h), the results of
// `cellar check` (check/check.h) and the held locks of the lock manager, as
// metric families. Nothing is learnt here that those modules do not already
// answer; this file only names the series (docs/metrics.md lists them).
#include <chrono>
#include <map>
#include <set>

#include "catalog/backup_values.h"
#include "check/check.h"
#include "check/status.h"
#include "locks/lock_backend.h"
#include "metrics/metrics.h"

namespace cellar::metrics {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

Family gauge(std::string name, std::string help) { return {std::move(name), std::move(help), "gauge", {}}; }

// Every family collect() may fill, in output order.
struct Families {
  Family postgres_up =
      gauge("cellar_postgres_up", "1 when cellar can connect to the server's PostgreSQL (conninfo), else 0");
  Family receive_wal_up = gauge(
      "cellar_receive_wal_up", "1 when a receive-wal process of this host holds the server's receive-wal lock, else 0");
  Family receive_wal_lag = gauge("cellar_receive_wal_lag_bytes",
                                 "bytes between PostgreSQL's current WAL position and what receive-wal has flushed");
  Family backups = gauge("cellar_backups", "backups in the catalogue, by effective status");
  Family last_backup_age = gauge("cellar_last_backup_age_seconds", "seconds since the newest DONE backup ended");
  Family last_backup_size = gauge("cellar_last_backup_size_bytes", "stored bytes of the newest DONE backup");
  Family wal_size = gauge("cellar_wal_archive_size_bytes", "stored bytes of the WAL archive (xlog.db sizes)");
  Family wal_files = gauge("cellar_wal_archive_files", "files in the WAL archive (xlog.db lines)");
  Family wal_age = gauge("cellar_wal_last_archived_age_seconds",
                         "seconds since the newest archived WAL segment was written (its xlog.db time)");
  Family lock_held =
      gauge("cellar_lock_held",
            "1 for each held lock of the servers (and the global locks): a process lock or a client hold");
  Family check_ok = gauge("cellar_check_ok", "1 when the check of 'cellar check' passes, 0 when it fails");
  Family scrape_errors = gauge("cellar_scrape_errors",
                               "sources cellar could not read for the server (catalogue, xlog.db, lock manager); "
                               "their series are left out");

  std::vector<Family> take() {
    std::vector<Family> out;
    for (Family* f : {&postgres_up, &receive_wal_up, &receive_wal_lag, &backups, &last_backup_age, &last_backup_size,
                      &wal_size, &wal_files, &wal_age, &lock_held, &check_ok, &scrape_errors})
      if (!f->samples.empty()) out.push_back(std::move(*f));
    return out;
  }
};

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void add(Family& family, Labels labels, double value) { family.samples.push_back({std::move(labels), value}); }

// Every status a backup can have, listed with 0 when no backup has it, so
// that an alert on FAILED sees a series before the first failure.
std::map<std::string, int> counts_by_status(const check::ServerStatus& st) {
  std::map<std::string, int> counts;
  for (auto status : {catalog::BackupStatus::started, catalog::BackupStatus::waiting_for_wals,
                      catalog::BackupStatus::done, catalog::BackupStatus::failed, catalog::BackupStatus::syncing})
    counts[catalog::status_name(status)] = 0;
  for (const auto& [status, n] : st.backups_by_status) counts[status] += n;
  return counts;
}

// `now`: unix seconds with a fraction, since xlog.db times have one.
void add_status(Families& f, const check::ServerStatus& st, double now) {
  const Labels server{{"server", st.server}};
  if (!st.passive) add(f.postgres_up, server, st.postgres_error.empty() ? 1 : 0);
  if (st.streaming_archiver) add(f.receive_wal_up, server, st.receiver_pid ? 1 : 0);
  if (st.lag_bytes) add(f.receive_wal_lag, server, static_cast<double>(*st.lag_bytes));
  if (st.catalogue_read) {
    for (const auto& [status, n] : counts_by_status(st)) add(f.backups, {{"server", st.server}, {"status", status}}, n);
    if (st.last_backup_end) add(f.last_backup_age, server, now - static_cast<double>(*st.last_backup_end));
    if (st.last_backup_size) add(f.last_backup_size, server, static_cast<double>(*st.last_backup_size));
  }
  if (st.xlogdb_read) {
    add(f.wal_size, server, static_cast<double>(st.wal_bytes));
    add(f.wal_files, server, st.wal_files);
    if (st.last_segment_time) add(f.wal_age, server, now - *st.last_segment_time);
  }
}

void add_checks(Families& f, const check::ServerChecks& checks) {
  for (const check::CheckResult& r : checks.results)
    add(f.check_ok, {{"server", checks.server}, {"check", check::check_key(r.name)}}, r.ok ? 1 : 0);
}

// One series per held lock (process or unexpired client hold). The holder
// is the client's name for a hold, else the PID; the host is this one when
// the backend does not record it (file locks are this host's by nature).
void add_lock(Families& f, const locks::LockEntry& e) {
  const bool hold = !e.client.empty();
  std::string holder = hold ? e.client : e.pid ? std::to_string(*e.pid) : "";
  add(f.lock_held,
      {{"server", e.server()},
       {"kind", e.kind()},
       {"lock", e.name ? locks::make_resource_name(*e.name) : e.file},
       {"host", e.host.empty() ? locks::this_host() : e.host},
       {"holder", holder},
       {"holder_kind", hold ? "client" : "process"}},
      1);
}

// The held locks of `servers` and the global ones; false when the lock
// manager could not list them.
bool add_locks(Families& f, const Config& config, const std::set<std::string>& servers) {
  locks::ScanOptions options;
  options.details = false;  // who holds what is all a series needs
  auto entries = locks::lock_manager(config).list(options);
  if (!entries) return false;
  for (const locks::LockEntry& e : *entries)
    if (e.held && !e.expired && (e.server().empty() || servers.count(e.server()))) add_lock(f, e);
  return true;
}

}  // namespace

std::vector<Family> collect(const Config& config, const std::vector<const ServerConfig*>& servers) {
  Families f;
  std::map<std::string, int> errors;  // per server, in name order
  std::set<std::string> names;
  for (const ServerConfig* server : servers) {
    if (!names.insert(server->name).second) continue;  // `metrics main main`: a series appears once
    // 1. what `cellar status` knows: PostgreSQL, receive-wal, catalogue, archive
    check::ServerStatus st = check::collect_status(config, *server);
    add_status(f, st, now_seconds());  // after reading: ages up to now
    errors[server->name] = (st.catalogue_read ? 0 : 1) + (st.xlogdb_read ? 0 : 1);
    // 2. what `cellar check` says (it also creates the server's directories)
    add_checks(f, check::check_server(config, *server));
  }
  // 3. the locks, in one listing for all the servers
  if (!servers.empty() && !add_locks(f, config, names))
    for (auto& [server, n] : errors) ++n;
  for (const auto& [server, n] : errors) add(f.scrape_errors, {{"server", server}}, n);
  return f.take();
}

}  // namespace cellar::metrics
