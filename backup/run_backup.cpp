#include "backup/run_backup.h"

#include <ctime>
#include <filesystem>
#include <thread>

#include "backup/incremental_copy.h"
#include "backup/stream_writer.h"
#include "catalog/backup_info.h"
#include "catalog/catalogue.h"
#include "catalog/manifest.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/pause_point.h"
#include "common/progress.h"
#include "common/storage.h"
#include "common/storage_mount.h"
#include "config/layout.h"
#include "config/names.h"
#include "locks/lock_backend.h"
#include "locks/typed_lock.h"
#include "pg/base_backup.h"
#include "pg/connection.h"
#include "pg/replication.h"
#include "wal/archive.h"
#include "wal/identity.h"

namespace cellar::backup {
namespace {

// What the server told us before the copy.
struct ServerFacts {
  pg::SystemIdentity identity;
  uint64_t segment_size = 0;
  int version = 0;
  std::map<std::string, std::string> settings;  // data_directory, config_file, ...
  std::map<uint32_t, std::string> tablespace_names;
};

struct Session {
  pg::Connection sql;
  pg::Connection repl;
  ServerFacts facts;
};

// The backup being made.
struct NewBackup {
  std::string id;
  std::string dir;
  catalog::BackupInfo info;
  codec::Codec codec = codec::Codec::none;
  int level = 0;
  unsigned jobs = 1;
};

struct Copied {
  CopyResult files;
  pg::BaseBackupEnd end;
};

void say(const BackupRequest& req, const std::string& line) {
  if (req.say) req.say(line);
  log::info(line);
}

// A warning the user must see: through `warn` (and the log file), or the log.
void warn(const BackupRequest& req, const std::string& line) {
  if (!req.warn) return log::warning(line);
  req.warn(line);
  log::info("WARNING: " + line);
}

Result<ServerFacts> read_facts(pg::Connection& sql, pg::Connection& repl) {
  ServerFacts f;
  auto id = pg::identify_system(repl);
  if (!id) return id.status();
  f.identity = *id;
  auto seg = pg::show_wal_segment_size(repl);
  if (!seg) return seg.status();
  f.segment_size = *seg;
  f.version = sql.server_version();
  for (const char* key : {"data_directory", "config_file", "hba_file", "ident_file", "data_checksums"}) {
    // Needs superuser or pg_read_all_settings: a missing value is not fatal.
    auto v = sql.query_value(std::string("SELECT current_setting('") + key + "', true)");
    f.settings[key] = v ? *v : "";
  }
  if (auto r = sql.query("SELECT oid, spcname FROM pg_tablespace")) {
    for (const auto& row : r->rows)
      f.tablespace_names[static_cast<uint32_t>(std::stoul(row[0].value_or("0")))] = row[1].value_or("");
  }
  return f;
}

Result<Session> open_session(const ServerConfig& server) {
  auto sql = pg::Connection::open(server.conninfo(), pg::ConnectionKind::normal, "cellar_backup");
  if (!sql) return sql.status();
  auto repl = pg::Connection::open(server.streaming_conninfo(), pg::ConnectionKind::replication, "cellar_backup");
  if (!repl) return repl.status();
  auto facts = read_facts(*sql, *repl);
  if (!facts) return facts.status();
  return Session{std::move(*sql), std::move(*repl), std::move(*facts)};
}

Status check_identity(const Config& config, const ServerConfig& server, const ServerFacts& f) {
  wal::Identity seen{f.identity.systemid, f.version, f.segment_size, std::time(nullptr)};
  return wal::check_or_record_identity(config.server_dir(server.name), server.name, seen);
}

// A fresh id: the start time, waiting for the next second if it is taken.
Result<std::string> new_backup_id(const std::string& base) {
  for (int tries = 0; tries < 5; ++tries) {
    std::string id = make_backup_id(std::time(nullptr));
    if (!storage::exists(storage::root(), join_path(base, id))) return id;
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  }
  return Status::failed("could not find a free backup id in \"" + base + "\"");
}

Result<NewBackup> plan_backup(const BackupRequest& req, const Session& session, const std::string& id) {
  const ServerConfig& s = *req.server;
  NewBackup b;
  b.id = id;
  b.dir = join_path(catalog::base_dir(req.config->server_dir(s.name)), id);
  auto codec = req.compression ? req.compression : codec::parse_codec(s.compression());
  if (!codec) return Status::usage("invalid compression \"" + s.compression() + "\"");
  b.codec = *codec;
  if (s.compression_level() && !req.compression) b.level = static_cast<int>(*s.compression_level());
  b.jobs = req.jobs ? req.jobs : static_cast<unsigned>(s.parallel_jobs());
  const ServerFacts& f = session.facts;
  catalog::BackupInfo& i = b.info;
  i.backup_id = id;
  i.backup_name = req.name;
  i.server_name = s.name;
  i.status = catalog::BackupStatus::started;
  i.mode = "postgres";
  i.type = "full";
  i.begin_time = catalog::Timestamp::local(std::time(nullptr));
  i.systemid = f.identity.systemid;
  i.version = static_cast<uint64_t>(f.version);
  i.compression = codec::codec_name(b.codec);
  i.encryption = storage::filter_id_of(layout::backup_manifest_file(b.dir));
  i.xlog_segment_size = f.segment_size;
  i.pgdata = f.settings.at("data_directory");
  i.config_file = f.settings.at("config_file");
  i.hba_file = f.settings.at("hba_file");
  i.ident_file = f.settings.at("ident_file");
  i.data_checksums = f.settings.at("data_checksums");
  return b;
}

// The previous DONE backup's files, when reuse_backup = link and it used the same codec.
ReuseMap load_reuse_map(const BackupRequest& req, const catalog::Catalogue& cat, const NewBackup& b) {
  ReuseMap map;
  const catalog::BackupEntry* prev = cat.previous_done(b.id);
  if (req.server->reuse_backup() != "link" || !prev) return map;
  if (prev->info.compression != codec::codec_name(b.codec)) return map;
  auto text = storage::read_file(storage::root(), layout::backup_manifest_file(prev->dir));
  auto manifest = text ? catalog::parse_manifest(*text) : Result<catalog::Manifest>(text.status());
  if (!manifest) {
    log::warning("not reusing backup " + prev->info.backup_id + ": " + manifest.status().message());
    return map;
  }
  for (const auto& f : manifest->files)
    if (f.checksum_algorithm == "CRC32C")
      map[f.path] = {f.size, f.checksum, catalog::stored_path_of(prev->dir, f.path, b.codec)};
  return map;
}

// The newest DONE backup of this cluster, or null.
const catalog::BackupEntry* newest_done(const catalog::Catalogue& cat, const std::string& systemid) {
  for (auto it = cat.backups.rbegin(); it != cat.backups.rend(); ++it)
    if (it->status == catalog::BackupStatus::done && it->info.systemid == systemid) return &*it;
  return nullptr;
}

// How many backups `b`'s chain holds: itself and its parents down to a full.
size_t chain_length(const catalog::Catalogue& cat, const catalog::BackupEntry& b) {
  size_t n = 1;
  for (const catalog::BackupEntry* e = &b; e->info.incremental() && n <= cat.backups.size(); ++n) {
    auto parent = std::find_if(cat.backups.begin(), cat.backups.end(),
                               [&](const auto& p) { return p.info.backup_id == e->info.parent_backup_id; });
    if (parent == cat.backups.end()) break;
    e = &*parent;
  }
  return n;
}

// The parent of an incremental backup, or null for a full one: --incremental
// or --full first, else backup_type, with a full once the newest chain holds
// full_backup_every backups (or when there is nothing to build on).
Result<const catalog::BackupEntry*> choose_parent(const BackupRequest& req, const catalog::Catalogue& cat,
                                                  const ServerFacts& f) {
  const ServerConfig& s = *req.server;
  const catalog::BackupEntry* newest = newest_done(cat, f.identity.systemid);
  if (!req.from.empty()) {
    auto e = cat.resolve(req.from);
    if (!e) return e.status();
    if ((*e)->status != catalog::BackupStatus::done || (*e)->info.systemid != f.identity.systemid)
      return Status::usage("backup " + (*e)->info.backup_id + " of server '" + s.name + "' cannot be the parent of " +
                               "an incremental backup: it is " + catalog::status_name((*e)->status) +
                               ((*e)->info.systemid != f.identity.systemid ? " and of another cluster" : ""),
                           "choose a DONE backup of this cluster ('cellar list-backups " + s.name + "')");
    return *e;
  }
  if (req.incremental) {
    if (!*req.incremental) return nullptr;
    return newest;  // none: the backup says why it is a full one
  }
  if (s.backup_type() != "incremental" || !newest) return nullptr;
  if (chain_length(cat, *newest) >= static_cast<size_t>(s.full_backup_every())) return nullptr;
  return newest;
}

Result<Copied> copy_files(const BackupRequest& req, Session& session, const NewBackup& b, const ReuseMap& reuse) {
  ProgressMeter meter(req.progress);
  PipelineOptions po;
  po.jobs = b.jobs;
  po.codec = b.codec;
  po.level = b.level;
  po.reuse = reuse.empty() ? nullptr : &reuse;
  StreamWriter writer(b.dir, po, [&](uint64_t done, uint64_t total) { meter.update(done, total); });
  pg::BaseBackupOptions opts{"cellar backup " + b.id, req.immediate_checkpoint, req.progress,
                             std::chrono::seconds(req.server->backup_stall_timeout().count())};
  auto end = pg::run_base_backup(session.repl, opts, writer);
  meter.finish();
  if (!end) return end.status();
  auto files = writer.complete();
  if (!files) return files.status();
  return Copied{std::move(*files), *end};
}

void record_copy(NewBackup& b, const ServerFacts& f, const Copied& c, double seconds) {
  catalog::BackupInfo& i = b.info;
  uint64_t seg = f.segment_size;
  const auto& start = c.files.start;
  i.end_time = catalog::Timestamp::local(std::time(nullptr));
  i.timeline = start.timeline;
  i.begin_xlog = pg::format_lsn(start.start_lsn);
  i.begin_wal = pg::make_segment_name(start.timeline, pg::segno_of(start.start_lsn, seg), seg);
  i.begin_offset = start.start_lsn % seg;
  i.end_xlog = pg::format_lsn(c.end.end_lsn);
  // The end LSN points just past the last record: its segment holds end - 1.
  i.end_wal = pg::make_segment_name(c.end.timeline, pg::segno_of(c.end.end_lsn - 1, seg), seg);
  i.end_offset = c.end.end_lsn % seg;
  i.size = c.files.size;
  i.deduplicated_size = c.files.deduplicated_size;
  i.cluster_size = c.files.cluster_size;
  std::vector<catalog::Tablespace> spcs;
  for (const auto& row : start.tablespaces) {
    if (!row.oid) continue;
    auto name = f.tablespace_names.find(*row.oid);
    spcs.push_back({name == f.tablespace_names.end() ? "" : name->second, *row.oid, row.location});
  }
  i.tablespaces = std::move(spcs);
  char stats[128];
  std::snprintf(stats, sizeof stats, "{'copy_time': %.3f, 'number_of_workers': %u}", seconds, b.jobs);
  i.copy_stats = stats;
}

// Where the restore point and the WAL switch go: the server itself, or, when
// it is a hot standby (neither runs there), the primary that primary_conninfo
// names. The primary's switch closes the standby's end segment too, once the
// standby has it (`primary` holds that connection). Null: nothing to switch
// (a standby without primary_conninfo: the primary closes the end segment in
// its own time).
pg::Connection* switch_target(const BackupRequest& req, Session& session, const NewBackup& b,
                              std::optional<pg::Connection>& primary) {
  auto recovering = session.sql.query_value("SELECT pg_is_in_recovery()");
  if (!recovering || *recovering != "t") return &session.sql;
  const ServerConfig& s = *req.server;
  if (!s.has(Key::primary_conninfo)) {
    say(req, "Backup " + b.id + " of server '" + s.name + "' was taken from a standby: it is DONE once the primary " +
                 "closes WAL segment " + b.info.end_wal + " (set primary_conninfo to have cellar switch it)");
    return nullptr;
  }
  auto conn = pg::Connection::open(s.primary_conninfo(), pg::ConnectionKind::normal, "cellar_backup");
  if (!conn) {
    log::warning("backup " + b.id +
                 ": could not reach the primary (primary_conninfo) to switch WAL: " + conn.status().message());
    return nullptr;
  }
  auto facts = conn->query("SELECT pg_is_in_recovery(), system_identifier FROM pg_control_system()");
  if (!facts || facts->rows.size() != 1) {
    log::warning("backup " + b.id + ": could not read the primary's state: " + facts.status().message());
    return nullptr;
  }
  const auto& row = facts->rows[0];
  if (row.at(0).value_or("t") != "f" || row.at(1).value_or("") != session.facts.identity.systemid) {
    log::warning("backup " + b.id + ": primary_conninfo of server '" + s.name +
                 "' names a standby or another cluster; no WAL switch");
    return nullptr;
  }
  primary.emplace(std::move(*conn));
  return &*primary;
}

// Restore point first, then the switch that closes its segment.
void mark_end_in_wal(const BackupRequest& req, Session& session, const NewBackup& b) {
  std::optional<pg::Connection> primary;
  pg::Connection* sql = switch_target(req, session, b, primary);
  if (!sql) return;
  const std::string& id = b.id;
  auto rp = sql->query("SELECT pg_create_restore_point(" + pg::sql_literal("cellar_" + id) + ")");
  if (!rp) log::warning("could not create restore point cellar_" + id + ": " + rp.status().message());
  auto sw = sql->query("SELECT pg_switch_wal()");
  if (!sw) log::warning("pg_switch_wal() failed after backup " + id + ": " + sw.status().message());
}

// Runs archive-wal once unless another one runs (then that one archives).
void try_archive(const BackupRequest& req) {
  auto opts = wal::archive_options_for(*req.config, *req.server);
  if (!opts) return;
  auto r = wal::archive_wal(*opts);
  if (!r && r.status().code() != ErrorCode::busy) log::warning("archive-wal: " + r.status().message());
}

Result<catalog::BackupStatus> settle_wals(const BackupRequest& req, const locks::BackupIdLock& lock,
                                          const NewBackup& b) {
  std::string server_dir = req.config->server_dir(req.server->name);
  auto deadline = std::chrono::steady_clock::now() + req.wait_timeout.value_or(std::chrono::hours(24 * 365));
  for (;;) {
    try_archive(req);
    auto st = catalog::check_backup_wals(lock, server_dir, b.dir);
    if (!st || *st != catalog::BackupStatus::waiting_for_wals || !req.wait) return st;
    if (std::chrono::steady_clock::now() >= deadline)
      return Status::failed("backup " + b.id + " of server '" + req.server->name + "' is still waiting for WAL (" +
                                b.info.end_wal + ") after " + std::to_string(req.wait_timeout->count()) + " s",
                            "the backup stays WAITING_FOR_WALS; cron marks it DONE once receive-wal and archive-wal "
                            "have stored its WAL");
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

// A failed copy is useless: its files go first (frees the space a full disk
// needs for backup.info), backup.info stays, saying why.
void remove_partial_files(const NewBackup& b) {
  // Uploads still in flight end (or fail) before their files are removed.
  (void)storage::root().sync_dir(b.dir);
  auto entries = storage::root().list(b.dir);
  if (!entries) return;
  for (const auto& e : *entries) {
    if (e.name == layout::kBackupInfoName) continue;
    const std::string path = join_path(b.dir, e.name);
    Status st = e.is_dir ? storage::root().remove_tree(path) : storage::root().remove(path);
    if (!st) log::warning(st.message());
  }
}

Status mark_failed(NewBackup& b, const std::string& step, const Status& why) {
  remove_partial_files(b);
  b.info.status = catalog::BackupStatus::failed;
  b.info.error = "failure " + step + " (" + why.message() + ")";
  if (Status st = catalog::save_backup_info(b.dir, b.info); !st) log::error(st.message());
  return Status(why).prefix("backup " + b.id + " failed while " + step);
}

// Steps 5-7 of run_backup, once the backup exists on disk as STARTED.
// 5 (incremental). Only what changed since `parent`, through SQL. False
// when the changed-block map cannot be trusted: the backup is then a full
// one, with a warning saying why.
Result<bool> copy_incremental_files(const BackupRequest& req, Session& session, NewBackup& b,
                                    const catalog::BackupEntry& parent) {
  auto t0 = std::chrono::steady_clock::now();
  ProgressMeter meter(req.progress);
  IncrementalRequest ir;
  ir.sql = &session.sql;
  ir.connect = [&req] {
    return pg::Connection::open(req.server->conninfo(), pg::ConnectionKind::normal, "cellar_backup");
  };
  ir.server_dir = req.config->server_dir(req.server->name);
  ir.backup_dir = b.dir;
  ir.parent_dir = parent.dir;
  ir.parent = parent.info;
  ir.label = "cellar backup " + b.id;
  ir.fast_checkpoint = req.immediate_checkpoint;
  ir.segment_size = session.facts.segment_size;
  ir.readers = b.jobs;
  ir.pipeline.jobs = b.jobs;
  ir.pipeline.codec = b.codec;
  ir.pipeline.level = b.level;
  ir.wal_wait = std::chrono::seconds(req.server->backup_stall_timeout().count());
  ir.archive = [&req] { try_archive(req); };
  ir.progress = [&meter](uint64_t done) { meter.update(done, 0); };
  auto copied = copy_incremental(ir);
  meter.finish();
  if (!copied) return copied.status();
  if (!copied->fallback.empty()) {
    remove_partial_files(b);  // what the incremental stored before it found out
    warn(req,
         "backup " + b.id + " of server '" + req.server->name + "' is taken as a full backup: " + copied->fallback);
    b.info.type = "full";
    b.info.parent_backup_id.clear();
    if (Status st = catalog::save_backup_info(b.dir, b.info); !st) return st;
    return false;
  }
  const uint64_t seg = session.facts.segment_size;
  catalog::BackupInfo& i = b.info;
  i.end_time = catalog::Timestamp::local(std::time(nullptr));
  i.timeline = copied->timeline;
  i.begin_xlog = pg::format_lsn(copied->start_lsn);
  i.begin_wal = pg::make_segment_name(copied->timeline, pg::segno_of(copied->start_lsn, seg), seg);
  i.begin_offset = copied->start_lsn % seg;
  i.end_xlog = pg::format_lsn(copied->end_lsn);
  i.end_wal = pg::make_segment_name(copied->timeline, pg::segno_of(copied->end_lsn - 1, seg), seg);
  i.end_offset = copied->end_lsn % seg;
  i.size = copied->size;
  i.deduplicated_size = copied->size;
  i.cluster_size = copied->cluster_size;
  i.tablespaces = copied->tablespaces;
  char stats[192];
  std::snprintf(stats, sizeof stats, "{'copy_time': %.3f, 'number_of_workers': %u, 'read_bytes': %llu}",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), b.jobs,
                static_cast<unsigned long long>(copied->read_bytes));
  i.copy_stats = stats;
  say(req, "Backup " + b.id + " is incremental on " + parent.info.backup_id + ": " +
               std::to_string(copied->changed_blocks) + " changed blocks in " +
               std::to_string(copied->incremental_files) + " relation files (" +
               std::to_string(copied->unchanged_files) + " more unchanged), " + std::to_string(copied->whole_files) +
               " files whole, " + human_bytes(copied->read_bytes) + " read from the server");
  return true;
}

Result<BackupOutcome> make_backup(const BackupRequest& req, Session& session, const locks::BackupIdLock& lock,
                                  NewBackup& b, const ReuseMap& reuse, const catalog::BackupEntry* parent) {
  auto t0 = std::chrono::steady_clock::now();
  bool incremental = false;
  if (parent) {
    auto done = copy_incremental_files(req, session, b, *parent);
    if (!done) return mark_failed(b, "copying files", done.status());
    incremental = *done;
  }
  // 5. Copy: BASE_BACKUP streamed through the compressing workers, fsynced.
  if (!incremental) {
    auto copied = copy_files(req, session, b, reuse);
    if (!copied) return mark_failed(b, "copying files", copied.status());
    record_copy(b, session.facts, *copied,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  // 6. The restore point cellar_<id>, then a WAL switch.
  mark_end_in_wal(req, session, b);
  // 7. WAITING_FOR_WALS; DONE once its WAL is archived. Only while the id
  //    lock is still ours (fencing: a holder frozen past its lease must not
  //    publish a backup that others already saw as dead).
  //    A lock no longer ours means someone else may own this backup's fate
  //    now: write nothing more (it lists as FAILED: STARTED, nobody holds it).
  if (Status st = lock.check_current(); !st) return Status(st).prefix("backup " + b.id + " not published");
  b.info.status = catalog::BackupStatus::waiting_for_wals;
  if (Status st = catalog::save_backup_info(b.dir, b.info); !st) return mark_failed(b, "saving backup.info", st);
  say(req, "Backup " + b.id + " of server '" + req.server->name + "': files copied (" +
               human_bytes(b.info.size.value_or(0)) + ", " + human_bytes(b.info.deduplicated_size.value_or(0)) +
               " new), WAL " + b.info.begin_wal + " to " + b.info.end_wal);
  auto status = settle_wals(req, lock, b);
  if (!status) return status.status();
  if (*status == catalog::BackupStatus::failed) {
    auto info = catalog::load_backup_info(b.dir);
    return Status::failed("backup " + b.id + " failed: " + (info ? info->error : std::string("see backup.info")));
  }
  return BackupOutcome{b.id, catalog::status_name(*status), b.dir};
}

}  // namespace

Status validate_backup_name(const std::string& name) {
  if (name.empty()) return Status::usage("backup name must not be empty");
  if (is_backup_id(name)) return Status::usage("backup name '" + name + "' is not allowed: it is a backup id");
  for (const char* w : {"latest", "last", "oldest", "first", "last-failed"})
    if (name == w) return Status::usage("backup name '" + name + "' is not allowed: reserved word");
  if (name.find('\n') != std::string::npos || name.find('=') != std::string::npos)
    return Status::usage("backup name must not contain a newline or '='");
  return Status::ok();
}

Result<BackupOutcome> run_backup(const BackupRequest& req) {
  const Config& config = *req.config;
  const std::string& server = req.server->name;
  // 1. One backup per server: hold the server's backup lock throughout.
  auto server_lock = locks::ServerBackupLock::acquire(locks::lock_manager(config), server);
  if (!server_lock) return server_lock.status();
  // 2. Backups whose process died (STARTED, id lock free) become FAILED.
  auto cat = catalog::load_catalogue(config, server);
  if (!cat) return cat.status();
  if (Status st = catalog::fail_stale_backups(*server_lock, *cat); !st) return st;
  // 3. Connect (SQL and replication) and check this is the same cluster.
  std::string base = catalog::base_dir(config.server_dir(server));
  if (Status st = storage::root().make_dir(base); !st) return st;
  auto session = open_session(*req.server);
  if (!session) return session.status();
  if (Status st = check_identity(config, *req.server, session->facts); !st) return st;
  // 4. The new backup: id, id lock, directory, backup.info STARTED.
  auto id = new_backup_id(base);
  if (!id) return id.status();
  auto id_lock = locks::BackupIdLock::acquire(locks::lock_manager(config), server, *id);
  if (!id_lock) return id_lock.status();
  auto b = plan_backup(req, *session, *id);
  if (!b) return b.status();
  auto parent = choose_parent(req, *cat, session->facts);
  if (!parent) return parent.status();
  bool want_incremental = *parent || (req.incremental && *req.incremental);
  if (*parent) {
    b->info.type = "incremental";
    b->info.parent_backup_id = (**parent).info.backup_id;
  }
  if (Status st = storage::root().make_dir(b->dir); !st) return st;
  if (Status st = catalog::save_backup_info(b->dir, b->info); !st) return st;
  say(req,
      "Starting backup " + *id + " of server '" + server + "'" + (req.name.empty() ? "" : " ('" + req.name + "')"));
  pause_point("backup-started");
  if (want_incremental && !*parent)
    warn(req, "backup " + *id + " of server '" + server +
                  "' is taken as a full backup: there is no DONE backup of this cluster to build on");
  // 5-7. Copy, mark the end in WAL, wait for the WAL.
  return make_backup(req, *session, *id_lock, *b, load_reuse_map(req, *cat, *b), *parent);
}

}  // namespace cellar::backup
