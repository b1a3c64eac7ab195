#include "backup/incremental_copy.h"

#include <algorithm>
#include <atomic>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "catalog/manifest.h"
#include "common/crc32c.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/pause_point.h"
#include "common/storage.h"
#include "config/layout.h"
#include "incr/change_map.h"
#include "incr/incremental_file.h"
#include "pg/parallel_reads.h"
#include "pg/wal_names.h"
#include "wal/wal_store.h"

namespace cellar::backup {
namespace {

constexpr uint64_t kReadChunk = 1 << 20;                        // bytes per pg_read_binary_file call for a whole file
constexpr uint32_t kRunBlocks = kReadChunk / incr::kBlockSize;  // blocks per call for changed blocks
constexpr size_t kPipelineDepth = 4;                            // calls in flight on the connection
constexpr size_t kSmallBatch = 64;                              // small whole files read in one pipeline
constexpr size_t kSmallDepth = 16;                              // and their calls in flight

// Directories whose contents a backup leaves out, files it never copies
// (BASE_BACKUP's lists in PostgreSQL 15's basebackup.c).
const std::set<std::string> kSkipContents = {"pg_wal",    "pg_replslot", "pg_stat_tmp",  "pg_dynshmem",
                                             "pg_notify", "pg_serial",   "pg_snapshots", "pg_subtrans"};
const std::set<std::string> kSkipFiles = {"postmaster.pid",           "postmaster.opts",     "backup_label",
                                          "tablespace_map",           "backup_manifest",     "current_logfiles",
                                          "postgresql.auto.conf.tmp", "cellar_restore.stamp"};

struct Listed {
  std::string path;  // relative to the data directory, tablespaces under pg_tblspc/<oid>/
  bool dir = false;
  uint64_t size = 0;
};

std::string first_component(const std::string& path) { return path.substr(0, path.find('/')); }

bool excluded(const std::string& path) {
  std::string name = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  if (name == "pg_internal.init" || path.find("pgsql_tmp") != std::string::npos) return true;
  if (path.find('/') == std::string::npos) return kSkipFiles.count(path) > 0;
  return kSkipContents.count(first_component(path)) > 0;
}

// Every file and directory of the data directory and its tablespaces, as
// pg_rewind lists them; what vanishes while listing is left out.
Result<std::vector<Listed>> list_files(pg::Connection& sql) {
  std::string skip;
  for (const auto& d : kSkipContents) skip += (skip.empty() ? "" : ", ") + pg::sql_literal(d);
  auto r = sql.query(
      "WITH RECURSIVE files(path, isdir, size) AS ("
      " SELECT fn, s.isdir, s.size FROM pg_ls_dir('.', true, false) AS fn, LATERAL pg_stat_file(fn, true) AS s"
      " UNION ALL"
      " SELECT f.path || '/' || fn, s.isdir, s.size FROM files f, LATERAL pg_ls_dir(f.path, true, false) AS fn,"
      "  LATERAL pg_stat_file(f.path || '/' || fn, true) AS s"
      " WHERE f.isdir AND f.path NOT IN (" +
      skip +
      "))"
      " SELECT path, isdir, size FROM files WHERE isdir IS NOT NULL ORDER BY path COLLATE \"C\"");
  if (!r) return Status(r.status()).with_hint("the role needs pg_ls_dir and pg_stat_file (docs/incremental.md)");
  std::vector<Listed> out;
  for (const auto& row : r->rows)
    out.push_back({row.at(0).value_or(""), row.at(1).value_or("f") == "t", std::stoull(row.at(2).value_or("0"))});
  return out;
}

// Where a manifest path's directory is stored: pg_tblspc/<oid> is the root of
// tablespace <oid> (<backup>/<oid>), anything else as stored_path_of says.
std::string stored_dir(const std::string& backup_dir, const std::string& path) {
  const std::string spc = "pg_tblspc/";
  if (path.compare(0, spc.size(), spc) == 0 && path.find('/', spc.size()) == std::string::npos)
    return join_path(backup_dir, path.substr(spc.size()));
  return catalog::stored_path_of(backup_dir, path, codec::Codec::none);
}

// The parent chain's files by their whole names (an incremental's manifest
// lists INCREMENTAL.<name>).
Result<std::set<std::string>> parent_files(const std::string& parent_dir) {
  auto text = storage::read_file(storage::root(), layout::backup_manifest_file(parent_dir));
  if (!text) return text.status();
  auto manifest = catalog::parse_manifest(*text);
  if (!manifest) return manifest.status();
  std::set<std::string> out;
  for (const auto& f : manifest->files) out.insert(incr::whole_path_of(f.path).value_or(f.path));
  return out;
}

// "base/5/16400" for every relation with an init fork: an unlogged relation,
// whose other forks a backup leaves out (recovery resets them from init).
std::set<std::string> unlogged_relations(const std::vector<Listed>& files) {
  std::set<std::string> out;
  for (const auto& f : files) {
    auto rs = incr::parse_relation_path(f.path);
    if (rs && rs->fork.fork == 3) out.insert(f.path.substr(0, f.path.size() - 5));  // "_init"
  }
  return out;
}

bool is_unlogged_data(const std::string& path, const std::set<std::string>& unlogged) {
  auto rs = incr::parse_relation_path(path);
  if (!rs || rs->fork.fork == 3) return false;
  std::string rel = path.substr(0, path.rfind('/') + 1) + std::to_string(rs->fork.rel);
  return unlogged.count(rel) > 0;
}

class Copier {
 public:
  Copier(const IncrementalRequest& r, pg::ParallelReads& reads, const incr::ChangeMap& map,
         const std::set<std::string>& parent, IncrementalCopied& out)
      : r_(r), reads_(reads), map_(map), parent_(parent), out_(out), pipe_(r.pipeline) {}

  // Whether file() of `f` looks at the map: the main fork of a relation
  // the parent has. Every other file is copied whole.
  static bool needs_map(const Listed& f, const std::set<std::string>& parent) {
    auto rs = incr::parse_relation_path(f.path);
    return rs && rs->fork.fork == 0 && parent.count(f.path) > 0;
  }

  Status file(const Listed& f) {
    auto rs = incr::parse_relation_path(f.path);
    if (!needs_map(f, parent_) || map_.whole_databases.count({rs->fork.spc, rs->fork.db}))
      return f.size < kReadChunk ? small(f) : whole(f.path, f.size);
    const uint64_t seg_start = static_cast<uint64_t>(rs->segno) * incr::kSegmentBlocks;
    const uint32_t size_blocks = static_cast<uint32_t>(f.size / incr::kBlockSize);
    std::vector<uint32_t> blocks;
    if (auto it = map_.blocks.find(rs->fork); it != map_.blocks.end())
      for (auto b = it->second.lower_bound(static_cast<uint32_t>(seg_start));
           b != it->second.end() && *b < seg_start + size_blocks; ++b)
        blocks.push_back(static_cast<uint32_t>(*b - seg_start));
    if (auto lim = map_.limits.find(rs->fork); lim != map_.limits.end()) {
      if (lim->second <= seg_start) return whole(f.path, f.size);  // created or dropped, or cut before it
      for (uint64_t b = lim->second - seg_start; b < size_blocks; ++b) blocks.push_back(static_cast<uint32_t>(b));
      std::sort(blocks.begin(), blocks.end());
      blocks.erase(std::unique(blocks.begin(), blocks.end()), blocks.end());
    }
    return incremental(f.path, size_blocks, blocks);
  }

  Status dir(const Listed& d) {
    std::string stored = stored_dir(r_.backup_dir, d.path);
    if (Status st = storage::root().make_dir(stored); !st) return st;
    dirs_.push_back(stored);
    if (d.path == "pg_wal") {
      std::string status = join_path(stored, "archive_status");
      if (Status st = storage::root().make_dir(status); !st) return st;
      dirs_.push_back(status);
    }
    return Status::ok();
  }

  // A file not read from the server (backup_label).
  Status literal(const std::string& path, const std::string& bytes) {
    if (Status st = begin(path, bytes.size()); !st) return st;
    if (Status st = pipe_.write(bytes); !st) return st;
    ++out_.whole_files;
    return pipe_.end_file();
  }

  // Reads the small whole files put aside so far.
  Status flush() {
    std::vector<std::string> queries, grown;
    for (const auto& f : small_) queries.push_back(read_query(f.path, 0, kReadChunk));
    Status st = reads_.run(queries, kSmallDepth, [&](size_t k, std::optional<std::string> chunk) {
      if (!chunk) return Status::ok();    // gone since the listing: its drop is in the WAL replayed after
      if (chunk->size() >= kReadChunk) {  // grown since the listing: read again, whole
        grown.push_back(small_[k].path);
        return Status::ok();
      }
      if (Status b = begin(small_[k].path, chunk->size()); !b) return b;
      ++out_.whole_files;
      count(chunk->size());
      if (Status w = pipe_.write(*chunk); !w) return w;
      return pipe_.end_file();
    });
    small_.clear();
    if (!st) return Status(st).with_hint("the role needs pg_read_binary_file (docs/incremental.md)");
    for (const auto& path : grown)
      if (Status w = whole(path, kReadChunk); !w) return w;
    return Status::ok();
  }

  // Waits for the workers, fsyncs the directories, commits the manifest.
  Status finish(const catalog::WalRange& wal) {
    if (Status st = flush(); !st) return st;
    auto outcomes = pipe_.finish();
    if (!outcomes) return outcomes.status();
    std::vector<catalog::ManifestFile> files = std::move(unchanged_);
    for (const auto& o : *outcomes) {
      files.push_back({o.manifest_path, o.size, "CRC32C", crc32c_manifest_hex(o.crc)});
      out_.size += o.stored_size;
      out_.cluster_size += o.size;
    }
    std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it)
      if (Status st = storage::root().sync_dir(*it); !st) return st;
    if (Status st = storage::root().sync_dir(r_.backup_dir); !st) return st;
    return storage::write_file(storage::root(), layout::backup_manifest_file(r_.backup_dir),
                               catalog::make_manifest(files, wal));
  }

 private:
  Status begin(const std::string& path, uint64_t size) {
    return pipe_.begin_file(path, catalog::stored_path_of(r_.backup_dir, path, codec::Codec::none),
                            size);  // the pipeline adds the suffix
  }

  void count(uint64_t bytes) {
    out_.read_bytes += bytes;
    if (r_.progress) r_.progress(out_.read_bytes);
  }

  // The query reading `length` bytes of `path` from `offset`.
  static std::string read_query(const std::string& path, uint64_t offset, uint64_t length) {
    return "SELECT pg_read_binary_file(" + pg::sql_literal(path) + ", " + std::to_string(offset) + ", " +
           std::to_string(length) + ", true)";
  }

  // A whole file smaller than one call, put aside to be read with others in
  // one pipeline (a round trip for each of some hundred small files, fsm
  // and vm forks, pg_xact, would cost more than their bytes).
  Status small(const Listed& f) {
    small_.push_back(f);
    return small_.size() >= kSmallBatch ? flush() : Status::ok();
  }

  // Reads 1 MiB calls, kPipelineDepth of them in flight, covering the listed
  // size and one more (a file that grew since the listing goes on with more
  // calls; WAL replay sets its end right anyway).
  Status whole(const std::string& path, uint64_t size_hint) {
    bool begun = false, ended = false;
    uint64_t offset = 0;
    while (!ended) {
      std::vector<std::string> queries;
      for (uint64_t at = offset; at <= std::max(size_hint, offset); at += kReadChunk)
        queries.push_back(read_query(path, at, kReadChunk));
      Status st = reads_.run(queries, kPipelineDepth, [&](size_t, std::optional<std::string> chunk) {
        if (ended) return Status::ok();
        if (!chunk) {  // gone since the listing: its drop is in the WAL replayed after
          ended = true;
          return Status::ok();
        }
        if (!begun) {
          if (Status b = begin(path, size_hint); !b) return b;
          ++out_.whole_files;
          begun = true;
        }
        count(chunk->size());
        offset += chunk->size();
        if (chunk->size() < kReadChunk) ended = true;
        return pipe_.write(*chunk);
      });
      if (!st) return Status(st).with_hint("the role needs pg_read_binary_file (docs/incremental.md)");
    }
    return begun ? pipe_.end_file() : Status::ok();
  }

  // The header, then the blocks, read in calls of at most 1 MiB that cover
  // neighbouring changed blocks together (kPipelineDepth in flight): a call
  // may read unchanged blocks between them (never more than twice the
  // changed ones it carries), which are dropped. A call that comes back
  // short (the file was cut or dropped meanwhile, which the WAL replayed
  // after this backup's start redoes) leaves zero pages.
  Status incremental(const std::string& path, uint32_t size_blocks, const std::vector<uint32_t>& blocks) {
    incr::IncrementalHeader h;
    h.truncate_blocks = size_blocks;
    h.blocks = blocks;
    const std::string name = incr::incremental_path(path);
    if (blocks.empty()) {  // unchanged: in the manifest only, nothing stored
      const std::string header = incr::encode_incremental_header(h);
      unchanged_.push_back({name, header.size(), "CRC32C", crc32c_manifest_hex(crc32c(header)), size_blocks});
      ++out_.unchanged_files;
      return Status::ok();
    }
    if (Status st = begin(name, h.file_size()); !st) return st;
    ++out_.incremental_files;
    out_.changed_blocks += blocks.size();
    if (Status st = pipe_.write(incr::encode_incremental_header(h)); !st) return st;
    struct Run {
      size_t from, to;  // blocks[from, to)
    };
    std::vector<Run> runs;
    std::vector<std::string> queries;
    for (size_t i = 0; i < blocks.size();) {
      size_t j = i + 1;
      auto span = [&](size_t end) { return static_cast<uint64_t>(blocks[end] - blocks[i]) + 1; };
      while (j < blocks.size() && span(j) <= kRunBlocks && span(j) <= 3 * (j - i + 1)) ++j;
      runs.push_back({i, j});
      queries.push_back(
          read_query(path, static_cast<uint64_t>(blocks[i]) * incr::kBlockSize, span(j - 1) * incr::kBlockSize));
      i = j;
    }
    Status st = reads_.run(queries, kPipelineDepth, [&](size_t k, std::optional<std::string> got) {
      const Run& run = runs[k];
      const uint64_t first = blocks[run.from];
      const uint64_t length = (static_cast<uint64_t>(blocks[run.to - 1]) - first + 1) * incr::kBlockSize;
      std::string bytes = got ? std::move(*got) : std::string();
      count(bytes.size());
      bytes.resize(length, '\0');
      if (length == (run.to - run.from) * incr::kBlockSize) return pipe_.write(bytes);  // every block changed
      picked_.clear();
      for (size_t b = run.from; b < run.to; ++b)
        picked_.append(bytes, static_cast<size_t>(blocks[b] - first) * incr::kBlockSize, incr::kBlockSize);
      return pipe_.write(picked_);
    });
    if (!st) return Status(st).with_hint("the role needs pg_read_binary_file (docs/incremental.md)");
    return pipe_.end_file();
  }

  const IncrementalRequest& r_;
  pg::ParallelReads& reads_;
  const incr::ChangeMap& map_;
  const std::set<std::string>& parent_;
  IncrementalCopied& out_;
  FilePipeline pipe_;
  std::vector<std::string> dirs_;
  std::vector<catalog::ManifestFile> unchanged_;  // segments the parent has as they are
  std::vector<Listed> small_;                     // small whole files not read yet
  std::string picked_;                            // a run's changed blocks (its capacity kept)
};

// Waits for `segment` of the map's range to be archived, running archive-wal:
// every 10 ms for the first half second (the archiver usually delivers a
// switched segment within some tens of milliseconds), then every 200 ms,
// until `deadline`. The server archives in order: once `last` (the segment
// of the backup's start, closed by its switch) is there, an earlier segment
// still missing is a gap, which the map's read then names.
struct SegmentWait {
  const IncrementalRequest& r;
  std::string last;
  std::chrono::steady_clock::time_point deadline;
  std::atomic<bool> cancelled{false};
  bool timed_out = false;

  Status operator()(const std::string& segment) {
    const auto start = std::chrono::steady_clock::now();
    const std::string wals = wal::wals_dir(r.server_dir);
    for (bool waited = false;; waited = true) {
      if (wal::find_archived(wals, segment) || (segment != last && wal::find_archived(wals, last))) {
        if (segment == last && waited)
          log::info("WAL up to the backup's start archived after " +
                    std::to_string(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()) +
                    " s more");
        return Status::ok();
      }
      if (cancelled) return Status::failed("the backup stopped");
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        timed_out = true;
        return Status::failed("WAL segment " + segment + " was not archived within " +
                              std::to_string(r.wal_wait.count()) + " s (is receive-wal running?)");
      }
      if (r.archive) r.archive();
      if (wal::find_archived(wals, segment)) continue;
      std::this_thread::sleep_for(std::chrono::milliseconds(now - start < std::chrono::milliseconds(500) ? 10 : 200));
    }
  }
};

Result<std::vector<catalog::Tablespace>> tablespaces(pg::Connection& sql) {
  auto r = sql.query(
      "SELECT oid, spcname, pg_tablespace_location(oid) FROM pg_tablespace"
      " WHERE spcname NOT IN ('pg_default', 'pg_global') ORDER BY oid");
  if (!r) return r.status();
  std::vector<catalog::Tablespace> out;
  for (const auto& row : r->rows)
    out.push_back(
        {row.at(1).value_or(""), static_cast<uint32_t>(std::stoul(row.at(0).value_or("0"))), row.at(2).value_or("")});
  return out;
}

}  // namespace

Result<IncrementalCopied> copy_incremental(const IncrementalRequest& r) {
  IncrementalCopied out;
  pg::Connection& sql = *r.sql;
  auto recovering = sql.query_value("SELECT pg_is_in_recovery()");
  if (!recovering) return recovering.status();
  if (*recovering == "t") {
    out.fallback = "incremental backups are taken from a primary, and this server is a standby";
    return out;
  }
  auto started = sql.query_value("SELECT pg_backup_start(" + pg::sql_literal(r.label) + ", " +
                                 (r.fast_checkpoint ? "true" : "false") + ")::text");
  if (!started) return Status(started.status()).prefix("pg_backup_start() failed");
  auto start_lsn = pg::parse_lsn(*started);
  auto tli = sql.query_value("SELECT timeline_id FROM pg_control_checkpoint()");
  if (!start_lsn || !tli) return Status::failed("could not read the backup's start from the server");
  out.start_lsn = *start_lsn;
  out.timeline = static_cast<uint32_t>(std::stoul(*tli));
  auto fall_back = [&](const std::string& why) -> Result<IncrementalCopied> {
    (void)sql.query("SELECT pg_backup_stop(false)");
    out.fallback = why;
    return out;
  };
  const std::string pid = r.parent.backup_id;
  if (r.parent.timeline.value_or(0) != out.timeline)
    return fall_back("its parent " + pid + " is on timeline " + std::to_string(r.parent.timeline.value_or(0)) +
                     " and the server on timeline " + std::to_string(out.timeline));
  auto from = pg::parse_lsn(r.parent.begin_xlog);
  if (!from || *from > out.start_lsn) return fall_back("the start of its parent " + pid + " is not before this one");
  // The map needs every record before this start: close its segment, and
  // build the map on its own thread, which waits for each segment to be
  // archived, while this one lists the files.
  if (auto sw = sql.query("SELECT pg_switch_wal()"); !sw) return sw.status();
  SegmentWait wait{r, pg::make_segment_name(out.timeline, pg::segno_of(out.start_lsn, r.segment_size), r.segment_size),
                   std::chrono::steady_clock::now() + r.wal_wait};
  const incr::ChangeRange range{r.server_dir, out.timeline, *from, out.start_lsn, r.segment_size, std::ref(wait)};
  auto map_job = std::async(std::launch::async, [&range] {
    const auto t = std::chrono::steady_clock::now();
    auto map = incr::build_change_map(range);
    return std::make_pair(std::move(map), std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count());
  });
  // Returning early (an error below) stops the map's wait before the job is joined.
  struct Cancel {
    SegmentWait& w;
    ~Cancel() { w.cancelled = true; }
  } cancel{wait};
  auto t_copy = std::chrono::steady_clock::now();
  auto parent = parent_files(r.parent_dir);
  auto spcs = tablespaces(sql);
  if (!spcs) return spcs.status();
  out.tablespaces = std::move(*spcs);
  // The listing's recursive query is estimated at millions of rows, which
  // would have it JIT-compiled (some 100 ms) for a thousand files.
  if (auto off = sql.query("SET jit = off"); !off) return off.status();
  auto listed = list_files(sql);
  if (!listed) return listed.status();
  // One backend per job reads (the first is this session's, in backup mode).
  std::vector<pg::Connection> extra;
  for (unsigned k = 1; k < r.readers && r.connect; ++k) {
    auto c = r.connect();
    if (!c) {
      log::warning("reading with " + std::to_string(k) +
                   " connection(s), another could not be opened: " + c.status().message());
      break;
    }
    extra.push_back(std::move(*c));
  }
  if (!parent) return fall_back("the manifest of " + pid + " cannot be read: " + parent.status().message());
  const auto unlogged = unlogged_relations(*listed);
  std::vector<pg::Connection*> readers{&sql};
  for (auto& c : extra) readers.push_back(&c);
  pg::ParallelReads reads(readers);
  incr::ChangeMap map;  // filled once built; the first pass does not look at it
  Copier copier(r, reads, map, *parent, out);
  if (Status st = storage::root().make_dir(layout::backup_data_dir(r.backup_dir)); !st) return st;
  // First, while the map is still being built, the directories and every
  // file that is copied whole whatever the map says (not the main fork of
  // a relation the parent has); then the rest, against the map. A fall-back
  // to a full backup removes what the first pass stored (run_backup.cpp).
  std::optional<Listed> control;
  std::vector<const Listed*> mapped;
  for (const auto& f : *listed) {
    if (excluded(f.path) || is_unlogged_data(f.path, unlogged)) continue;
    if (f.path == "global/pg_control") {
      control = f;
      continue;
    }
    if (!f.dir && Copier::needs_map(f, *parent)) {
      mapped.push_back(&f);
      continue;
    }
    if (Status st = f.dir ? copier.dir(f) : copier.file(f); !st) return Status(st).prefix("copying " + f.path);
  }
  if (Status st = copier.flush(); !st) return st;
  pause_point("incremental-first-pass");
  auto [built, map_secs] = map_job.get();
  if (!built && wait.timed_out) return fall_back(built.status().message());
  if (!built) return fall_back("the WAL since " + pid + " cannot be trusted: " + built.status().message());
  map = std::move(*built);
  size_t blocks = 0;
  for (const auto& [fork, set] : map.blocks) blocks += set.size();
  log::info("changed-block map since " + pid + ": " + std::to_string(map.records) + " WAL records, " +
            std::to_string(blocks) + " changed blocks in " + std::to_string(map.blocks.size()) + " forks, built in " +
            std::to_string(map_secs) + " s (with the wait for its last segment)");
  for (const Listed* f : mapped)
    if (Status st = copier.file(*f); !st) return Status(st).prefix("copying " + f->path);
  if (!control) return Status::failed("the server's data directory has no global/pg_control");
  if (Status st = copier.flush(); !st) return st;
  if (Status st = copier.file(*control); !st) return st;  // last, as BASE_BACKUP sends it
  if (Status st = copier.flush(); !st) return st;
  auto stopped = sql.query("SELECT lsn::text, labelfile FROM pg_backup_stop(false)");
  if (!stopped || stopped->rows.size() != 1) return Status(stopped.status()).prefix("pg_backup_stop() failed");
  auto end_lsn = pg::parse_lsn(stopped->rows[0].at(0).value_or(""));
  if (!end_lsn) return Status::failed("pg_backup_stop() returned no end LSN");
  out.end_lsn = *end_lsn;
  if (Status st = copier.literal("backup_label", stopped->rows[0].at(1).value_or("")); !st) return st;
  if (Status st = copier.finish({out.timeline, out.start_lsn, out.end_lsn}); !st) return st;
  log::info("incremental copy: " + std::to_string(out.read_bytes) + " bytes read in " +
            std::to_string(std::chrono::duration<double>(std::chrono::steady_clock::now() - t_copy).count()) + " s");
  return out;
}

}  // namespace cellar::backup
