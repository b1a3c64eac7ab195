// The checks of `cellar check` that look at cellar's own side: the backup
// catalogue, the WAL archive, the receive-wal process, the replication slot
// it uses and the identity of the cluster. Names and hints follow Barman
// (barman-behaviour.md §8); see check.h for the table.
#include <algorithm>
#include <ctime>

#include "check/check.h"
#include "common/fs.h"
#include "common/progress.h"
#include "config/layout.h"
#include "locks/lock_backend.h"
#include "locks/typed_lock.h"
#include "pg/replication.h"
#include "pg/wal_names.h"
#include "wal/identity.h"
#include "wal/receiver.h"

namespace cellar::check::checks {
namespace {

CheckResult pass(std::string hint = {}) { return {"", true, std::move(hint)}; }
CheckResult fail(std::string hint) { return {"", false, std::move(hint)}; }

const catalog::BackupEntry* last_done(const catalog::Catalogue& cat) {
  for (auto it = cat.backups.rbegin(); it != cat.backups.rend(); ++it)
    if (it->status == catalog::BackupStatus::done) return &*it;
  return nullptr;
}

int count_status(const catalog::Catalogue& cat, catalog::BackupStatus status) {
  return static_cast<int>(std::count_if(cat.backups.begin(), cat.backups.end(),
                                        [&](const catalog::BackupEntry& b) { return b.status == status; }));
}

// "2 days, 3 hours, 4 minutes" (Barman's human_readable_timedelta, to the minute).
std::string human_age(int64_t seconds) {
  if (seconds < 60) return "less than one minute";
  std::string out;
  auto part = [&](int64_t n, const char* unit) {
    if (n == 0) return;
    out += (out.empty() ? "" : ", ") + std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
  };
  part(seconds / 86400, "day");
  part(seconds % 86400 / 3600, "hour");
  part(seconds % 3600 / 60, "minute");
  return out;
}

uint64_t segment_size_of(const std::string& server_dir) {
  auto id = wal::load_identity(server_dir);
  if (id && *id && (*id)->xlog_segment_size) return (*id)->xlog_segment_size;
  return pg::kDefaultSegmentSize;
}

// Somebody streams: a process (of this host or another) holds the lock.
bool receiver_runs(const CheckContext& ctx) {
  auto owner = locks::lock_manager(ctx.config).owner({locks::LockKind::receive_wal, ctx.server.name, ""});
  return owner && *owner && !(*owner)->is_hold();
}

// The first segment missing between `from` ("" = the first archived) and
// the last archived segment, or "". A new timeline starts at (or before) the
// segment after the previous timeline's last one.
std::string first_gap(const wal::XlogDb& db, const std::string& from, uint64_t seg_size) {
  std::vector<std::string> names;
  for (const auto& e : db.entries)
    if (pg::is_segment_name(e.name) && e.name >= from) names.push_back(e.name);
  std::sort(names.begin(), names.end());
  if (names.empty()) return "";
  if (!from.empty() && names.front() != from) return from;
  for (size_t i = 1; i < names.size(); ++i) {
    auto prev = pg::parse_wal_file_name(names[i - 1], seg_size);
    auto cur = pg::parse_wal_file_name(names[i], seg_size);
    if (prev && cur && cur->segno > prev->segno + 1) return pg::make_segment_name(cur->tli, prev->segno + 1, seg_size);
  }
  return "";
}

}  // namespace

// Barman HEAD: OK when xlog.db lists something or a backup waits for WAL;
// only a failure is printed.
std::optional<CheckResult> wal_archive(CheckContext& ctx) {
  const wal::XlogDb* db = ctx.xlogdb();
  if (!db) return fail(ctx.xlogdb_error().message());
  if (!db->entries.empty()) return std::nullopt;
  if (const catalog::Catalogue* cat = ctx.catalogue();
      cat && count_status(*cat, catalog::BackupStatus::waiting_for_wals) > 0)
    return std::nullopt;
  return fail("please make sure WAL shipping is setup");
}

std::optional<CheckResult> replication_slot(CheckContext& ctx) {
  if (ctx.server.passive()) return std::nullopt;
  pg::Connection* conn = ctx.postgres();
  if (!conn) return std::nullopt;
  std::string slot = ctx.server.slot_name();
  auto r = conn->query("SELECT active, restart_lsn IS NOT NULL FROM pg_replication_slots WHERE slot_name = " +
                       pg::sql_literal(slot));
  if (!r) return fail("could not read pg_replication_slots: " + r.status().message());
  bool exists = !r->rows.empty();
  bool active = exists && r->rows[0].at(0).value_or("f") == "t";
  bool initialised = exists && r->rows[0].at(1).value_or("f") == "t";
  if (!ctx.server.streaming_archiver()) {
    if (!exists) return std::nullopt;
    return pass("WARNING: slot '" + slot + "' is " + (active ? "active" : "initialised") +
                " but not required by the current config");
  }
  if (!exists)
    return fail("replication slot '" + slot + "' doesn't exist. Please execute 'cellar receive-wal --create-slot " +
                ctx.server.name + "'");
  if (!initialised) return fail("slot '" + slot + "' not initialised: is 'receive-wal' running?");
  if (!active) return fail("slot '" + slot + "' not active: is 'receive-wal' running?");
  return pass();
}

// The configuration refuses to load with an invalid policy, so a server that
// got this far has valid settings; the line stays for Barman's output.
std::optional<CheckResult> retention_settings(CheckContext&) { return pass(); }

std::optional<CheckResult> backup_maximum_age(CheckContext& ctx) {
  auto maximum_age = ctx.server.last_backup_maximum_age();
  if (!maximum_age) return pass("no last_backup_maximum_age provided");
  const catalog::Catalogue* cat = ctx.catalogue();
  if (!cat) return fail(ctx.catalogue_error().message());
  int64_t limit = maximum_age->count();
  std::string hint = "interval provided: " + human_age(limit) + ", latest backup age: ";
  const catalog::BackupEntry* last = last_done(*cat);
  if (!last) return fail(hint + "No available backups; take one: cellar backup " + ctx.server.name);
  const auto& end = last->info.end_time;
  int64_t age = end ? std::time(nullptr) - end->epoch : limit + 1;
  hint += human_age(age);
  if (age > limit) return fail(hint + "; take a backup: cellar backup " + ctx.server.name);
  return pass(hint);
}

std::optional<CheckResult> backup_minimum_size(CheckContext& ctx) {
  const catalog::Catalogue* cat = ctx.catalogue();
  const catalog::BackupEntry* last = cat ? last_done(*cat) : nullptr;
  uint64_t size = last ? last->info.size.value_or(0) : 0;
  ctx.perfdata.push_back(ctx.server.name + "=" + std::to_string(size) + "B");
  return pass(human_bytes(size));
}

// Stored size of the WAL archived since the last backup began (all WAL if none).
std::optional<CheckResult> wal_size(CheckContext& ctx) {
  const catalog::Catalogue* cat = ctx.catalogue();
  const catalog::BackupEntry* last = cat ? last_done(*cat) : nullptr;
  std::string from = last ? last->info.begin_wal : "";
  uint64_t size = 0;
  if (const wal::XlogDb* db = ctx.xlogdb())
    for (const auto& e : db->entries)
      if (e.name >= from) size += e.size;
  ctx.perfdata.push_back(ctx.server.name + "_wals=" + std::to_string(size) + "B");
  return pass(human_bytes(size));
}

std::optional<CheckResult> failed_backups(CheckContext& ctx) {
  const catalog::Catalogue* cat = ctx.catalogue();
  if (!cat) return fail(ctx.catalogue_error().message());
  int failed = count_status(*cat, catalog::BackupStatus::failed);
  if (failed == 0) return pass();
  return fail("there are " + std::to_string(failed) + " failed backups; see 'cellar list-backups " + ctx.server.name +
              "', then 'cellar delete " + ctx.server.name + " BACKUP' each one");
}

std::optional<CheckResult> minimum_redundancy(CheckContext& ctx) {
  const catalog::Catalogue* cat = ctx.catalogue();
  if (!cat) return fail(ctx.catalogue_error().message());
  int done = count_status(*cat, catalog::BackupStatus::done);
  int64_t wanted = ctx.server.minimum_redundancy();
  std::string hint = "have " + std::to_string(done) + " backups, expected at least " + std::to_string(wanted);
  return done >= wanted ? pass(hint) : fail(hint);
}

std::optional<CheckResult> systemid_coherence(CheckContext& ctx) {
  if (ctx.server.passive()) return std::nullopt;
  pg::Connection* conn = ctx.postgres();
  if (!conn) return std::nullopt;  // the PostgreSQL check says why
  std::string normal, streaming;
  if (auto v = conn->query_value("SELECT system_identifier FROM pg_control_system()")) normal = *v;
  if (auto repl = pg::Connection::open(ctx.server.streaming_conninfo(), pg::ConnectionKind::replication))
    if (auto id = pg::identify_system(*repl)) streaming = id->systemid;
  if (normal.empty() && streaming.empty()) return fail("no system Id available");
  if (!normal.empty() && !streaming.empty() && normal != streaming)
    return fail("is the streaming DSN targeting the same server of the PostgreSQL connection string?");
  auto stored = wal::load_identity(ctx.server_dir());
  if (!stored) return fail(stored.status().message());
  if (!*stored) return pass("no system Id stored on disk");
  if ((*stored)->systemid != (normal.empty() ? streaming : normal))
    return fail("the system Id of the connected PostgreSQL server changed, stored in \"" +
                wal::identity_path(ctx.server_dir()) + "\"");
  return pass();
}

std::optional<CheckResult> receive_wal_running(CheckContext& ctx) {
  if (ctx.server.passive() || !ctx.server.streaming_archiver()) return std::nullopt;
  if (receiver_runs(ctx)) return pass();
  std::string hint = "no receive-wal process is running for server '" + ctx.server.name +
                     "'; 'cellar cron' (run every minute) starts it; see \"" +
                     layout::receive_wal_log_file(ctx.server_dir()) + "\"";
  if (auto st = wal::load_receiver_state(ctx.server_dir()); st && *st && !(*st)->last_error.empty())
    hint += "; its last error: " + (*st)->last_error;
  return fail(hint);
}

// No segment missing from the oldest backup's begin_wal (or the first
// archived segment) to the last archived one.
std::optional<CheckResult> wal_continuity(CheckContext& ctx) {
  const wal::XlogDb* db = ctx.xlogdb();
  if (!db) return fail(ctx.xlogdb_error().message());
  const catalog::Catalogue* cat = ctx.catalogue();
  std::string from;
  if (cat)
    for (const auto& b : cat->backups)
      if (b.copy_done()) {
        from = b.info.begin_wal;
        break;
      }
  std::string gap = first_gap(*db, from, segment_size_of(ctx.server_dir()));
  if (gap.empty()) return pass();
  return fail("WAL segment " + gap + " is missing from the archive: recovery cannot go past it; " +
              "take a new backup (cellar backup " + ctx.server.name + ") and check receive-wal");
}

// The server's timeline against the archive's newest (segments and history
// files): after a promotion the archive must follow, and an archive ahead
// of the server means conninfo names a server that was left behind (an old
// primary after a failover).
std::optional<CheckResult> timeline(CheckContext& ctx) {
  if (!ctx.server_timeline) return std::nullopt;
  const wal::XlogDb* db = ctx.xlogdb();
  if (!db) return std::nullopt;  // the WAL archive check says why
  pg::TimeLineId newest = 0;
  for (const auto& e : db->entries) {
    auto name = pg::parse_wal_file_name(e.name, pg::kDefaultSegmentSize);  // the timeline is all we read
    if (name && (name->kind == pg::WalFileKind::segment || name->kind == pg::WalFileKind::history))
      newest = std::max(newest, name->tli);
  }
  if (newest == 0) return std::nullopt;
  pg::TimeLineId tli = *ctx.server_timeline;
  std::string server_tli = "PostgreSQL is on timeline " + std::to_string(tli);
  if (tli == newest) return pass();
  if (tli > newest)
    return fail(server_tli + ", the archive's newest is " + std::to_string(newest) + ": receive-wal has not " +
                "followed the switch yet (" + pg::make_history_name(tli) + " is not archived); check that " +
                "receive-wal runs against this server (cellar cron restarts it after a conninfo change)");
  return fail(server_tli + " but the archive already holds timeline " + std::to_string(newest) +
              ": conninfo may name a server that was not promoted (an old primary); point conninfo at the " +
              "current primary");
}

std::optional<CheckResult> archiver_errors(CheckContext& ctx) {
  std::string dir = layout::errors_dir(ctx.server_dir());
  auto names = list_dir(dir);
  if (!names) return path_exists(dir) ? std::optional(fail(names.status().message())) : std::optional(pass());
  int duplicates = 0, unknown = 0;
  for (const auto& n : *names) {
    if (n.size() > 10 && n.compare(n.size() - 10, 10, ".duplicate") == 0)
      ++duplicates;
    else
      ++unknown;
  }
  if (duplicates + unknown == 0) return pass();
  std::vector<std::string> parts;
  if (duplicates) parts.push_back("duplicates: " + std::to_string(duplicates));
  if (unknown) parts.push_back("unknown: " + std::to_string(unknown));
  std::string hint = parts[0] + (parts.size() > 1 ? ", " + parts[1] : "");
  return fail(hint + "; inspect the files in \"" + dir + "\" and remove them once handled");
}

}  // namespace cellar::check::checks
