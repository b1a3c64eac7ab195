#include "recover/recover.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <set>

#include "catalog/catalogue.h"
#include "catalog/manifest.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/pause_point.h"
#include "common/progress.h"
#include "common/storage.h"
#include "config/grammar.h"
#include "config/layout.h"
#include "incr/change_map.h"
#include "incr/incremental_file.h"
#include "locks/lock_backend.h"
#include "locks/typed_lock.h"
#include "pg/wal_names.h"
#include "recover/recover_chain.h"
#include "recover/recover_config.h"
#include "recover/recover_copy.h"
#include "recover/recover_delta.h"
#include "recover/recover_stamp.h"
#include "recover/recover_wal.h"
#include "wal/archive.h"

namespace cellar::recover {
namespace {

const char* const kWalDir = "cellar_wal";

// The backup to restore, re-read under its id lock.
struct HeldBackup {
  locks::BackupIdLock lock;
  catalog::BackupInfo info;
  std::string dir;
};

// A tablespace of the backup and where it is restored.
struct Placement {
  catalog::Tablespace space;
  std::string location;
};

void say(const RecoverRequest& r, const std::string& line) {
  if (r.say) r.say(line);
}

// Resolves BACKUP, takes its id lock (busy while it is deleted, verified,
// written or restored by someone else) and checks that it is still DONE.
Result<HeldBackup> hold_backup(const RecoverRequest& r) {
  auto catalogue = catalog::load_catalogue(*r.config, r.server->name);
  if (!catalogue) return catalogue.status();
  auto entry = catalogue->resolve(r.backup);
  if (!entry) return entry.status();
  std::string id = (*entry)->info.backup_id;
  auto lock = locks::BackupIdLock::acquire(locks::lock_manager(*r.config), r.server->name, id);
  if (!lock) return lock.status();
  auto info = catalog::load_backup_info((*entry)->dir);  // a delete may have won the race
  if (!info) return Status::failed("backup " + id + " of server '" + r.server->name + "' is gone");
  if (info->status != catalog::BackupStatus::done)
    return Status::failed(
        "backup " + id + " of server '" + r.server->name + "' is " + catalog::status_name(info->status) + ", not DONE",
        "only DONE backups can be recovered; run 'cellar list-backups " + r.server->name + "'");
  return HeldBackup{std::move(*lock), std::move(*info), (*entry)->dir};
}

Result<std::vector<Placement>> place_tablespaces(const RecoverRequest& r, const catalog::BackupInfo& info) {
  std::vector<Placement> out;
  std::string names;
  for (const auto& s : info.tablespaces) {
    out.push_back({s, s.location});
    names += (names.empty() ? "" : ", ") + s.name;
  }
  for (const auto& rel : r.relocations) {
    auto it = std::find_if(out.begin(), out.end(), [&](const Placement& p) { return p.space.name == rel.name; });
    if (it == out.end())
      return Status::usage("invalid tablespace name '" + rel.name + "'",
                           names.empty() ? "backup " + info.backup_id + " has no tablespace"
                                         : "the tablespaces of backup " + info.backup_id + " are: " + names);
    it->location = rel.location;
  }
  return out;
}

// DEST and every tablespace location must be absent or empty (with --delta:
// absent or a directory), and distinct.
Status check_destinations(const std::string& dest, const std::vector<Placement>& spaces, bool delta) {
  std::vector<std::string> seen{dest};
  auto check = [&](const std::string& path, const std::string& what) -> Status {
    if (delta) {
      struct stat sb {};
      if (::lstat(path.c_str(), &sb) == 0 && !S_ISDIR(sb.st_mode))
        return Status::usage(what + " \"" + path + "\" is not a directory");
      return Status::ok();
    }
    auto ok = usable_destination(path);
    if (!ok) return ok.status();
    if (!*ok)
      return Status::usage(
          what + " \"" + path + "\" is not empty",
          "recover never overwrites anything: choose an empty or absent directory" +
              std::string(what == "destination directory" ? "" : ", or relocate it with --tablespace"));
    return Status::ok();
  };
  if (Status st = check(dest, "destination directory"); !st) return st;
  for (const auto& p : spaces) {
    if (std::find(seen.begin(), seen.end(), p.location) != seen.end())
      return Status::usage(
          "tablespace '" + p.space.name + "' would be restored into \"" + p.location + "\", which is already used",
          "give each tablespace its own --tablespace location");
    seen.push_back(p.location);
    if (Status st = check(p.location, "location of tablespace '" + p.space.name + "'"); !st) return st;
  }
  return Status::ok();
}

// Archives whatever complete WAL waits in streaming/ and incoming/, as
// Barman does, so that the newest WAL is available. Only a warning if not.
void archive_pending_wal(const RecoverRequest& r, std::vector<std::string>& warnings) {
  if (r.server->passive()) return;
  auto options = wal::archive_options_for(*r.config, *r.server);
  if (!options) return;
  auto report = wal::archive_wal(*options);
  if (!report && report.status().code() != ErrorCode::busy)
    warnings.push_back("archive-wal failed before the recovery: " + report.status().message());
}

// Gives every planned file the size and checksum the backup manifest records.
Status expect_manifest(const HeldBackup& b, codec::Codec codec, RestorePlan& plan) {
  auto text = storage::read_file(storage::root(), layout::backup_manifest_file(b.dir));
  if (!text) return Status(text.status()).with_hint("a DONE backup has a backup_manifest; verify-backup tells more");
  auto manifest = catalog::parse_manifest(*text);
  if (!manifest) return manifest.status();
  std::map<std::string, const catalog::ManifestFile*> by_stored;
  std::set<std::string> unlogged;  // "base/5/16400" of every relation with an init fork
  for (const auto& mf : manifest->files) {
    by_stored[catalog::stored_path_of(b.dir, mf.path, codec)] = &mf;
    if (auto rs = incr::parse_relation_path(mf.path); rs && rs->fork.fork == 3)
      unlogged.insert(mf.path.substr(0, mf.path.size() - 5));
  }
  for (auto& job : plan.files) {
    auto it = by_stored.find(job.src);
    if (it == by_stored.end()) continue;
    job.size = it->second->size;
    if (it->second->checksum_algorithm == "CRC32C") job.crc32c = it->second->checksum;
    // An unlogged relation changes without WAL: no change map may speak for it.
    const std::string& path = it->second->path;
    if (!unlogged.count(path.substr(0, std::min(path.find_first_of("._", path.rfind('/')), path.size()))))
      job.manifest_path = path;
  }
  return Status::ok();
}

Result<RestorePlan> plan_restore(const RecoverRequest& r, const HeldBackup& b, const std::vector<Placement>& spaces) {
  RestorePlan plan;
  auto codec = codec::parse_codec(b.info.compression.empty() ? "none" : b.info.compression);
  if (!codec)
    return Status::failed("backup " + b.info.backup_id + " has an unknown compression \"" + b.info.compression + "\"");
  if (Status st = plan_tree(layout::backup_data_dir(b.dir), r.dest, *codec, plan); !st) return st;
  plan.dirs.push_back(join_path(r.dest, "pg_tblspc"));
  for (const auto& p : spaces) {
    std::string src = join_path(b.dir, std::to_string(p.space.oid));
    if (storage::exists(storage::root(), src)) {
      if (Status st = plan_tree(src, p.location, *codec, plan); !st) return st;
    } else {
      plan.dirs.push_back(p.location);
      plan.roots.emplace_back(src, p.location);
    }
    plan.symlinks.push_back({join_path(r.dest, "pg_tblspc/" + std::to_string(p.space.oid)), p.location});
  }
  if (Status st = expect_manifest(b, *codec, plan); !st) return st;
  // A stamp a backup took along from a data directory is no restore's.
  std::string stamp = join_path(r.dest, kStampFile);
  std::erase_if(plan.files, [&](const CopyJob& j) { return j.dest == stamp; });
  if (b.info.incremental())
    if (Status st = plan_chain(*r.config, r.server->name, b.info, b.dir, plan); !st) return st;
  return plan;
}

// Adds the WAL to copy into cellar_wal/ (none with --get-wal); returns how many.
Result<size_t> add_wal_jobs(const RecoverRequest& r, const HeldBackup& b, const PreparedTarget& target,
                            RestorePlan& plan) {
  std::string server_dir = r.config->server_dir(r.server->name);
  if (r.get_wal) {
    if (Status st = check_backup_wal_archived(server_dir, b.info); !st) return st;
    return size_t{0};
  }
  std::string dir = join_path(r.dest, kWalDir);
  auto jobs = plan_wal(server_dir, b.info, target, dir);
  if (!jobs) return jobs.status();
  plan.dirs.push_back(dir);
  plan.files.insert(plan.files.end(), jobs->begin(), jobs->end());
  return jobs->size();
}

// Creates the roots (DEST and the tablespace locations) 0700, as PostgreSQL
// requires, with their parents.
Status make_roots(const std::vector<std::string>& roots) {
  for (const auto& root : roots) {
    if (Status st = make_dirs(root, 0700); !st) return st;
    if (::chmod(root.c_str(), 0700) != 0) return Status::from_errno("could not chmod \"" + root + "\"", errno);
  }
  return Status::ok();
}

Result<CopyStats> copy_files(const RecoverRequest& r, const HeldBackup& b, const RestorePlan& plan, CopyMode mode,
                             const DeltaHints& hints = {}) {
  unsigned jobs = r.jobs ? r.jobs : static_cast<unsigned>(std::max<int64_t>(1, r.server->parallel_jobs()));
  // From an object store every file costs a round trip: upload_concurrency
  // more threads take the small files, as many requests as the driver keeps
  // in flight for uploads.
  auto where = parse_repository(r.server->repository());
  unsigned small_jobs = where && where->kind == RepositoryLocation::Kind::s3
                            ? static_cast<unsigned>(std::max<int64_t>(0, r.server->upload_concurrency()))
                            : 0;
  uint64_t total = b.info.cluster_size.value_or(0);
  say(r, std::string(mode == CopyMode::delta ? "Comparing " : "Copying ") + std::to_string(plan.files.size()) +
             " files (" + human_bytes(total) + " before WAL) with " + std::to_string(jobs) + " job(s)" +
             (small_jobs ? " and " + std::to_string(small_jobs) + " more for small files" : ""));
  ProgressMeter meter(r.progress);
  auto stats = execute_plan(
      plan, jobs,
      [&](uint64_t done) {
        meter.update(done, std::max(total, done));
        pause_point("recover-copying");  // progress is serialised: the other workers wait at their next file
      },
      small_jobs, mode, hints);
  meter.finish();
  return stats;
}

// The stamp a restore of `b` leaves in DEST (its files come from the copy).
RestoreStamp stamp_of(const HeldBackup& b) {
  RestoreStamp s;
  s.backup_id = b.info.backup_id;
  s.systemid = b.info.systemid;
  s.timeline = static_cast<uint32_t>(b.info.timeline.value_or(0));
  s.start_lsn = pg::parse_lsn(b.info.begin_xlog).value_or(0);
  s.stop_lsn = pg::parse_lsn(b.info.end_xlog).value_or(0);
  return s;
}

// The blocks that may differ between the backup DEST's stamp names and `b`:
// the change map of the WAL from the earlier start to the later stop, on
// their common timeline; or why it cannot be built (the changed files are
// then compared whole).
struct MapBetween {
  std::optional<incr::ChangeMap> map;
  std::string why_not;
};

MapBetween map_between(const RecoverRequest& r, const HeldBackup& b, const RestoreStamp& stamp) {
  RestoreStamp here = stamp_of(b);
  if (!here.timeline || here.timeline != stamp.timeline)
    return {std::nullopt, "DEST holds backup " + stamp.backup_id + " of timeline " + std::to_string(stamp.timeline) +
                              ", this backup is of timeline " + std::to_string(here.timeline)};
  if (!here.start_lsn || !here.stop_lsn || !stamp.start_lsn || !stamp.stop_lsn)
    return {std::nullopt, "a backup's start or stop LSN is unknown"};
  incr::ChangeRange range;
  range.server_dir = r.config->server_dir(r.server->name);
  range.timeline = here.timeline;
  range.from_lsn = std::min(here.start_lsn, stamp.start_lsn);
  range.to_lsn = std::max(here.stop_lsn, stamp.stop_lsn);
  range.segment_size = b.info.xlog_segment_size.value_or(pg::kDefaultSegmentSize);
  // More WAL than the cluster holds costs more to decode than reading DEST.
  const uint64_t limit = std::max<uint64_t>(b.info.cluster_size.value_or(0), uint64_t{1} << 30);
  if (range.to_lsn - range.from_lsn > limit)
    return {std::nullopt, "the WAL between backup " + stamp.backup_id + " and this one (" +
                              human_bytes(range.to_lsn - range.from_lsn) + ") is larger than the cluster"};
  auto started = std::chrono::steady_clock::now();
  auto map = incr::build_change_map(range);
  if (!map)
    return {std::nullopt,
            "the WAL between backup " + stamp.backup_id + " and this one cannot be read: " + map.status().message()};
  log::info("delta restore: the WAL from " + pg::format_lsn(range.from_lsn) + " to " + pg::format_lsn(range.to_lsn) +
            " changed blocks of " + std::to_string(map->blocks.size()) + " relation forks (" +
            std::to_string(map->records) + " records, " +
            std::to_string(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()) + " s)");
  return {std::move(*map), ""};
}

// What a delta restore knows of DEST before it plans: the stamp found there
// (of the backup's system) and the change map, built on a thread of its own
// while the restore is planned.
struct DeltaStart {
  std::shared_ptr<const RestoreStamp> stamp;  // shared with the map's thread
  std::future<MapBetween> map;
};

Result<DeltaStart> start_delta(const RecoverRequest& r, const HeldBackup& b) {
  DeltaStart out;
  auto stamp = read_stamp(r.dest);
  if (!stamp) return stamp.status();
  if (*stamp && (*stamp)->systemid == b.info.systemid) out.stamp = std::make_shared<RestoreStamp>(std::move(**stamp));
  if (out.stamp)
    out.map = std::async(std::launch::async, [&r, &b, s = out.stamp]() -> MapBetween {
      try {
        return map_between(r, b, *s);
      } catch (const std::exception& e) {
        return {std::nullopt, std::string("building the change map failed: ") + e.what()};
      }
    });
  return out;
}

// recover --delta's writes: the restore stamp removed and pg_control hidden
// before anything changes, what the backup does not have removed, the files
// compared and only what differs written, pg_control last.
Result<CopyStats> delta_files(const RecoverRequest& r, const HeldBackup& b, RestorePlan plan,
                              const std::vector<std::string>& roots, DeltaStart& start, RecoverOutcome& out) {
  std::string control = join_path(r.dest, "global/pg_control");
  auto it = std::find_if(plan.files.begin(), plan.files.end(), [&](const CopyJob& j) { return j.dest == control; });
  if (it == plan.files.end()) return Status::failed("backup " + b.info.backup_id + " has no global/pg_control");
  CopyJob control_job = *it;
  plan.files.erase(it);
  DeltaHints hints;
  MapBetween map;
  if (start.stamp) {
    hints.stamp = start.stamp.get();
    map = start.map.get();
    if (map.map)
      hints.map = &*map.map;
    else
      say(r, "Comparing changed files whole: " + map.why_not);
  }
  if (Status st = remove_stamp(r.dest); !st) return st;
  if (Status st = hide_control_file(r.dest); !st) return st;
  std::vector<std::string> keep{join_path(r.dest, kHiddenControlFile),
                                join_path(r.dest, r.standby ? "standby.signal" : "recovery.signal"),
                                join_path(r.dest, "postgresql.auto.conf.origin")};
  auto removed = remove_unplanned(plan, roots, keep);
  if (!removed) return removed.status();
  out.delta.removed = *removed;
  std::vector<std::string> absent;
  for (const auto& root : roots)
    if (!path_exists(root)) absent.push_back(root);
  if (Status st = make_roots(absent); !st) return st;
  auto stats = copy_files(r, b, plan, CopyMode::delta, hints);
  if (!stats) return stats;
  auto last = delta_one(control_job);
  if (!last) return last.status();
  if (Status st = drop_hidden_control_file(r.dest); !st) return st;
  stats->bytes += last->bytes;
  stats->written += last->written;
  ++stats->files;
  return stats;
}

// What a failure after a delta restore started writing says.
Status half_restored(const std::string& dest, Status why) {
  std::string detail = why.detail().empty() ? "" : why.detail() + "; ";
  std::string hint = why.hint().empty() ? "" : why.hint() + "; ";
  return why
      .with_detail(detail + "\"" + dest +
                   "\" is left half-restored, without global/pg_control so that PostgreSQL "
                   "cannot start it")
      .with_hint(hint + "running the same 'cellar recover --delta' again completes it");
}

RecoveryConfig recovery_config(const RecoverRequest& r, const HeldBackup& b, const PreparedTarget& target) {
  RecoveryConfig c;
  c.header = "# written by cellar recover on " + catalog::format_time(std::time(nullptr)) + ": backup " +
             b.info.backup_id + " of server '" + r.server->name + "'";
  std::string wal_dir = join_path(r.dest, kWalDir);
  if (r.get_wal) {
    std::string config = std::filesystem::absolute(r.config->main_file).string();
    c.restore_command = shell_quote(r.cellar_exe) + " -c " + shell_quote(config) + " get-wal " +
                        shell_quote(r.server->name) + " %f > %p";
  } else {
    c.restore_command = "cp " + shell_quote(wal_dir + "/%f") + " %p";
    if (!r.standby) c.recovery_end_command = "rm -rf " + shell_quote(wal_dir);
  }
  c.targets = target.settings;
  c.standby = r.standby;
  return c;
}

std::vector<std::string> roots_of(const RecoverRequest& r, const std::vector<Placement>& spaces) {
  std::vector<std::string> roots{r.dest};
  for (const auto& p : spaces) roots.push_back(p.location);
  return roots;
}

}  // namespace

Result<TablespaceRelocation> parse_relocation(const std::string& rule) {
  size_t colon = rule.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= rule.size() || rule[colon + 1] != '/')
    return Status::usage("invalid tablespace relocation rule '" + rule + "'",
                         "use --tablespace NAME:LOCATION with an absolute LOCATION");
  return TablespaceRelocation{rule.substr(0, colon), rule.substr(colon + 1)};
}

Result<RecoverOutcome> recover(const RecoverRequest& r) {
  auto start = std::chrono::steady_clock::now();
  if (r.dest.empty() || r.dest[0] != '/') return Status::usage("the destination directory must be an absolute path");
  // 1. The backup, held under its id lock so that nobody deletes it meanwhile.
  auto held = hold_backup(r);
  if (!held) return held.status();
  RecoverOutcome out;
  out.id = held->info.backup_id;
  say(r, "Starting recovery of backup " + out.id + " of server '" + r.server->name + "' into \"" + r.dest + "\"");
  // 2. Every refusal before anything is written: target, tablespaces, destinations.
  auto target = prepare_target(r.target, held->info);
  if (!target) return target.status();
  out.warnings = target->warnings;
  auto spaces = place_tablespaces(r, held->info);
  if (!spaces) return spaces.status();
  if (Status st = check_destinations(r.dest, *spaces, r.delta); !st) return st;
  DeltaStart delta_start;
  if (r.delta) {
    if (Status st = check_delta_destination(r.dest, held->info.systemid); !st) return st;
    auto started = start_delta(r, *held);
    if (!started) return started.status();
    delta_start = std::move(*started);
  }
  // 3. The plan: directories, files, symlinks, and the WAL recovery needs.
  archive_pending_wal(r, out.warnings);
  auto plan = plan_restore(r, *held, *spaces);
  if (!plan) return plan.status();
  auto wal_files = add_wal_jobs(r, *held, *target, *plan);
  if (!wal_files) return wal_files.status();
  out.wal_files = *wal_files;
  // 4. Decompress and copy with the worker threads. From here on a failure
  //    puts DEST and the tablespace locations back as they were found; with
  //    --delta it leaves DEST without pg_control, for the next run to finish.
  out.owned = roots_of(r, *spaces);
  std::function<Status(const Status&)> undo = [&r](const Status& why) { return half_restored(r.dest, why); };
  std::vector<FoundDestination> found;
  if (!r.delta) {
    auto inspected = inspect_destinations(out.owned);
    if (!inspected) return inspected.status();
    found = std::move(*inspected);
    undo = [&found](const Status& why) { return put_back(found, why); };
    if (Status st = make_roots(out.owned); !st) return undo(st);
  }
  auto stats = r.delta ? delta_files(r, *held, *plan, out.owned, delta_start, out)
                       : copy_files(r, *held, *plan, CopyMode::create);
  if (!stats) return undo(stats.status());
  out.bytes = stats->bytes;
  out.delta.written = stats->written;
  out.delta.unchanged = stats->unchanged;
  out.delta.rewritten = stats->files - stats->unchanged;
  out.delta.trusted = stats->trusted;
  out.delta.mapped = stats->mapped;
  // 5. The recovery settings, archive_command neutralised, the signal file.
  auto warnings = write_recovery_config(r.dest, recovery_config(r, *held, *target));
  if (!warnings) return undo(warnings.status());
  out.warnings.insert(out.warnings.end(), warnings->begin(), warnings->end());
  // 6. Durable before success is reported.
  for (const auto& root : out.owned)
    if (Status st = fsync_tree(root, stats->durable); !st) return undo(st);
  // 7. The stamp that lets the next --delta into DEST trust what is there.
  if (Status st = write_stamp(r.dest, stamp_of(*held), stats->stamped); !st)
    log::warning("no restore stamp in \"" + r.dest + "\": " + st.message() +
                 "; a later recover --delta into it reads every file");
  out.files = stats->files - out.wal_files;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  log::info("recovered backup " + out.id + " of server '" + r.server->name + "' into \"" + r.dest + "\"");
  return out;
}

}  // namespace cellar::recover
