#include "wal/archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <set>

#include "common/fs.h"
#include "common/log.h"
#include "common/storage_filter.h"
#include "common/storage_mount.h"
#include "common/storage_posix.h"
#include "config/layout.h"
#include "pg/wal_page.h"
#include "wal/identity.h"
#include "wal/wal_store.h"
#include "wal/xlogdb.h"

namespace cellar::wal {
namespace {

// A segment of the wrong size younger than this may still be being copied
// into incoming/ by a non-atomic archive_command: it waits for a later run.
constexpr time_t kShortSegmentGraceSeconds = 60;

struct Source {
  std::string name;  // file name
  std::string dir;   // <server>/streaming or <server>/incoming
  std::string path() const { return join_path(dir, name); }
  std::string shown() const { return join_path(dir.substr(dir.find_last_of('/') + 1), name); }
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

double mtime_of(const struct stat& sb) {
  return static_cast<double>(sb.st_mtim.tv_sec) + static_cast<double>(sb.st_mtim.tv_nsec) / 1e9;
}

std::string utc_stamp() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

// mkdir (0700) with the parent fsynced, so the new entry survives a crash.
Status ensure_dir(const std::string& dir) {
  if (storage::exists(storage::root(), dir)) return Status::ok();
  if (Status st = storage::root().make_dir(dir); !st) return st;
  return storage::root().sync_dir(dirname_of(dir));
}

// Files waiting in streaming/ and incoming/, in WAL (name) order. `.partial`
// (being received), the storage's temp files and `*.tmp` (being written) and
// dot files are not ours to move.
Result<std::vector<Source>> list_sources(const std::string& server_dir) {
  std::vector<Source> out;
  for (const std::string& dir : {layout::streaming_dir(server_dir), layout::incoming_dir(server_dir)}) {
    if (!path_exists(dir)) continue;
    auto names = list_dir(dir);
    if (!names) return names.status();
    for (auto& n : *names)
      if (n[0] != '.' && !ends_with(n, ".partial") && !ends_with(n, ".tmp") && !storage::is_temp_name(n))
        out.push_back({n, dir});
  }
  std::stable_sort(out.begin(), out.end(), [](const Source& a, const Source& b) { return a.name < b.name; });
  return out;
}

// Up to `count` bytes, fewer only at the end of `reader`.
Result<size_t> read_full(storage::Reader& reader, char* buf, size_t count) {
  size_t got = 0;
  while (got < count) {
    auto n = reader.read(buf + got, count - got);
    if (!n) return n.status();
    if (*n == 0) break;
    got += *n;
  }
  return got;
}

// Whether `src` holds exactly the decompressed content of `stored`. Streams
// both; stops at the first difference. A corrupt stored file is an error.
Result<bool> same_content(const std::string& src, const ArchivedFile& stored) {
  auto in = storage::root().open_read(src);
  if (!in) return in.status();
  auto archived = storage::open_decompressed(storage::root(), stored.path, stored.codec);
  if (!archived) return archived.status();
  std::string a(128 * 1024, '\0'), b(a.size(), '\0');
  for (;;) {
    auto got = read_full(**archived, a.data(), a.size());
    if (!got) return got.status();
    auto have = read_full(**in, b.data(), *got + (*got < a.size() ? 1 : 0));
    if (!have) return have.status();
    if (*have != *got || std::memcmp(a.data(), b.data(), *got) != 0) return false;
    if (*got < a.size()) return true;
  }
}

// One run of archive-wal over a server's sources.
class Archiver {
 public:
  Archiver(const locks::ArchiveWalLock& lock, const ArchiveOptions& o)
      : lock_(lock), o_(o), wals_(wals_dir(o.server_dir)) {}

  Status run() {
    // The archive directory, then what is already catalogued.
    if (Status st = ensure_dir(wals_); !st) return st;
    if (Status st = load_catalogue(); !st) return st;
    // Every waiting file in WAL order; the first I/O failure stops the run.
    auto sources = list_sources(o_.server_dir);
    if (!sources) return sources.status();
    for (const Source& s : *sources)
      if (Status st = archive_one(s); !st) return st;
    return Status::ok();
  }
  ArchiveReport report;

 private:
  Status load_catalogue() {
    auto lock = locks::XlogdbLock::acquire(*o_.locks, o_.server);
    if (!lock) return lock.status();
    auto db = load_xlogdb(xlogdb_path(o_.server_dir));
    if (!db) return db.status();
    for (const auto& e : db->entries) catalogued_.insert(e.name);
    return Status::ok();
  }

  Status archive_one(const Source& s) {
    struct stat sb {};
    if (::lstat(s.path().c_str(), &sb) != 0) {
      if (errno == ENOENT) return Status::ok();  // gone meanwhile (a DBA, or a racing receive-wal rename)
      return Status::from_errno("could not stat \"" + s.path() + "\"", errno);
    }
    auto parsed = pg::parse_wal_file_name(s.name, o_.segment_size);
    if (!parsed || !S_ISREG(sb.st_mode)) return move_to_errors(s, "unknown", "not a regular file with a WAL file name");
    if (parsed->kind == pg::WalFileKind::segment && static_cast<uint64_t>(sb.st_size) != o_.segment_size) {
      if (std::time(nullptr) - sb.st_mtim.tv_sec < kShortSegmentGraceSeconds) {
        log::info("skipping \"" + s.path() + "\" for now: " + std::to_string(sb.st_size) +
                  " bytes, not a whole segment (still being copied?)");
        return Status::ok();
      }
      return move_to_errors(s, "unknown",
                            std::to_string(sb.st_size) + " bytes instead of " + std::to_string(o_.segment_size));
    }
    if (parsed->kind == pg::WalFileKind::segment) {
      auto header = check_header(s, *parsed);
      if (!header) return header.status();
      if (!header->empty())
        return move_to_errors(s, header->find("belong to system") != std::string::npos ? "foreign" : "unknown",
                              *header);
    }
    const std::string dir = archive_dir_for(wals_, s.name);
    if (Status st = ensure_dir(dir); !st) return st;
    if (auto stored = find_archived(wals_, s.name)) return settle_existing(s, *stored, sb);
    return store_new(s, dir, sb);
  }

  // "" when the segment's first page is its own and this cluster's, else why not.
  Result<std::string> check_header(const Source& s, const pg::WalFileName& name) {
    auto in = storage::root().open_read(s.path());
    if (!in) return in.status();
    std::string first(pg::kLongPageHeaderSize, '\0');
    auto got = read_full(**in, first.data(), first.size());
    if (!got) return got.status();
    auto header = pg::parse_segment_header(std::string_view(first.data(), *got));
    if (!header) return std::string("its first page has no WAL page header (zero-filled or not WAL)");
    return pg::segment_header_mismatch(*header, name, o_.segment_size, o_.system_id);
  }

  // Compress to a temp file, then rename and catalogue in one critical section.
  Status store_new(const Source& s, const std::string& dir, const struct stat& sb) {
    remove_stale_temps(dir, s.name);
    const std::string final_path = join_path(dir, s.name + codec::codec_suffix(o_.compression));
    auto out = storage::open_compressed(storage::root(), final_path, o_.compression, o_.level);
    if (!out) return out.status();
    auto in = storage::root().open_read(s.path());
    if (!in) return in.status();
    if (auto copied = storage::copy(**in, **out); !copied) return copied.status();
    if (Status st = commit(**out, mtime_of(sb), s.name); !st) return st;
    if (Status st = drop_source(s); !st) return st;
    report.archived++;
    report.bytes += (*out)->written();
    report.stored_bytes += (*out)->stored();
    log::info("archived \"" + s.shown() + "\" as \"" + final_path + "\" (" + human_size((*out)->stored()) + ")");
    return Status::ok();
  }

  // The file's commit and its xlog.db line in one critical section, so a
  // reader of xlog.db never sees a name whose file is not there.
  Status commit(storage::CompressWriter& out, double mtime, const std::string& name) {
    auto lock = locks::XlogdbLock::acquire(*o_.locks, o_.server);
    if (!lock) return lock.status();
    // Fencing (SPEC §9): a paused former holder must not commit over its successor.
    if (Status st = lock_.check_current(); !st) return st.prefix("\"" + name + "\" not archived");
    if (Status st = out.commit(); !st) return st;
    return catalogue(*lock, XlogEntry{name, out.stored(), mtime, o_.compression, storage::filter_id_of(out.path())});
  }

  // Adds `entry` unless xlog.db has it already (never a second line for a name).
  Status catalogue(const locks::XlogdbLock& lock, const XlogEntry& entry) {
    if (catalogued_.count(entry.name)) {
      log::warning("\"" + entry.name + "\" was already in xlog.db of server '" + o_.server + "'; not added again");
      return Status::ok();
    }
    if (Status st = append_xlogdb(lock, xlogdb_path(o_.server_dir), {entry}); !st) return st;
    catalogued_.insert(entry.name);
    return Status::ok();
  }

  // The name is in wals/ already: a re-run after a crash, or a second copy.
  Status settle_existing(const Source& s, const ArchivedFile& stored, const struct stat& sb) {
    auto same = same_content(s.path(), stored);
    if (!same)
      return Status(same.status())
          .with_hint("the archived copy \"" + stored.path + "\" may be damaged; the source \"" + s.path() +
                     "\" was left in place");
    if (!*same) return move_to_errors(s, "duplicate", "differs from the archived \"" + stored.path + "\"");
    if (!catalogued_.count(s.name)) {
      auto st_stored = storage::root().info(stored.path);
      if (!st_stored) return st_stored.status();
      if (!*st_stored) return Status::failed("\"" + stored.path + "\" disappeared while archiving");
      auto lock = locks::XlogdbLock::acquire(*o_.locks, o_.server);
      if (!lock) return lock.status();
      XlogEntry entry{s.name, (*st_stored)->size, mtime_of(sb), stored.codec, storage::filter_id_of(stored.path)};
      if (Status st = catalogue(*lock, entry); !st) return st;
      report.catalogued++;
      log::info("catalogued \"" + stored.path + "\", which was in wals/ but not in xlog.db");
    } else {
      report.duplicates_dropped++;
      log::info("dropped \"" + s.shown() + "\": already archived with the same content");
    }
    return drop_source(s);
  }

  Status drop_source(const Source& s) { return storage::root().remove(s.path()); }

  // errors/<name>.<UTC stamp>.<reason>, as Barman names them; never overwrites.
  Status move_to_errors(const Source& s, const char* reason, const std::string& why) {
    const std::string errors = layout::errors_dir(o_.server_dir);
    if (Status st = ensure_dir(errors); !st) return st;
    const std::string stamp = utc_stamp();
    std::string target = join_path(errors, layout::error_name(s.name, stamp, reason));
    for (int i = 1; path_exists(target); ++i)
      target = join_path(errors, layout::error_name(s.name, stamp + "-" + std::to_string(i), reason));
    if (Status st = storage::durable_rename(-1, s.path(), target); !st) return st;
    report.moved_to_errors.push_back(target);
    log::warning("moved \"" + s.path() + "\" to \"" + target + "\": " + why);
    return Status::ok();
  }

  // A crash while compressing leaves the storage's temp files of `name`;
  // no one else writes these (archive-wal holds its lock).
  void remove_stale_temps(const std::string& dir, const std::string& name) {
    auto entries = storage::root().list(dir);
    if (!entries) return;
    for (const storage::Entry& e : *entries) {
      if (e.name.rfind(name, 0) != 0 || !storage::is_temp_name(e.name)) continue;
      if (storage::root().remove(join_path(dir, e.name), false))
        log::info("removed stale temp file \"" + join_path(dir, e.name) + "\"");
    }
  }

  const locks::ArchiveWalLock& lock_;
  const ArchiveOptions& o_;
  std::string wals_;
  std::set<std::string> catalogued_;
};

bool valid_segment_size(uint64_t size) { return size >= (1u << 20) && size <= (1u << 30) && (size & (size - 1)) == 0; }

}  // namespace

Result<ArchiveOptions> archive_options_for(const Config& config, const ServerConfig& server) {
  ArchiveOptions o;
  o.server = server.name;
  o.server_dir = config.server_dir(server.name);
  o.locks = &locks::lock_manager(config);
  auto codec = codec::parse_codec(server.compression());
  if (!codec) return Status::usage("invalid compression \"" + server.compression() + "\"");
  o.compression = *codec;
  if (auto level = server.compression_level()) o.level = static_cast<int>(*level);
  if (auto level = codec::resolve_level(o.compression, o.level); !level) return level.status();
  auto identity = load_identity(o.server_dir);
  if (!identity) return identity.status();
  if (*identity && (*identity)->xlog_segment_size != 0) {
    if (!valid_segment_size((*identity)->xlog_segment_size))
      return Status::failed("invalid xlog_segment_size " + std::to_string((*identity)->xlog_segment_size) + " in \"" +
                                identity_path(o.server_dir) + "\"",
                            "it must be a power of two from 1 MiB to 1 GiB; fix or remove the file");
    o.segment_size = (*identity)->xlog_segment_size;
  }
  if (*identity) o.system_id = std::strtoull((*identity)->systemid.c_str(), nullptr, 10);
  return o;
}

Result<ArchiveReport> archive_wal(const locks::ArchiveWalLock& lock, const ArchiveOptions& options) {
  Archiver archiver(lock, options);
  if (Status st = archiver.run(); !st) {
    if (archiver.report.archived > 0) log::info(summary_line(archiver.report, options.server) + " before the failure");
    return st;
  }
  return archiver.report;
}

Result<ArchiveReport> archive_wal(const ArchiveOptions& options) {
  auto lock = locks::ArchiveWalLock::acquire(*options.locks, options.server);
  if (!lock) return lock.status();
  return archive_wal(*lock, options);
}

std::string human_size(uint64_t bytes) {
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes) / 1024;
  int u = 0;
  for (; v >= 1024 && u < 3; ++u) v /= 1024;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string summary_line(const ArchiveReport& r, const std::string& server) {
  std::string line = "archived " + std::to_string(r.archived) + " WAL file" + (r.archived == 1 ? "" : "s") + " (" +
                     human_size(r.bytes) + ") for server '" + server + "'";
  if (r.catalogued) line += ", catalogued " + std::to_string(r.catalogued) + " already in wals/";
  if (r.duplicates_dropped) line += ", dropped " + std::to_string(r.duplicates_dropped) + " duplicate(s)";
  if (!r.moved_to_errors.empty()) line += ", moved " + std::to_string(r.moved_to_errors.size()) + " to errors/";
  return line;
}

}  // namespace cellar::wal
