#include "config/layout.h"

#include "common/fs.h"
#include "common/storage_posix.h"
#include "config/names.h"
#include "pg/wal_names.h"

namespace cellar::layout {
namespace {

constexpr const char* kBase = "base";
constexpr const char* kWals = "wals";
constexpr const char* kStreaming = "streaming";
constexpr const char* kIncoming = "incoming";
constexpr const char* kErrors = "errors";
constexpr const char* kData = "data";
constexpr const char* kManifest = "backup_manifest";
constexpr const char* kXlogdb = "xlog.db";
constexpr const char* kSyncBookmark = "sync-wals.info";
constexpr const char* kIdentity = "identity.json";
constexpr const char* kPartial = ".partial";
constexpr const char* kSpoolFiles[] = {"receive-wal.state", "receive-wal.log", "receive-wal.cron",
                                       "backup.cron",       "backup.log",      "receive-wal.daemon"};

// The smallest segment size accepts every name any size allows: only the
// shape matters here.
constexpr uint64_t kShapeSegmentSize = 1u << 20;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    parts.push_back(path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) return parts;
    start = slash + 1;
  }
}

bool is_wal_name(std::string_view name) {
  return pg::parse_wal_file_name(std::string(name), kShapeSegmentSize).has_value();
}

// "<name>[suffix]" → name and codec, when name is a WAL file name.
std::optional<std::pair<std::string, codec::Codec>> stored_wal(std::string_view file) {
  codec::Codec c = codec::codec_of_suffix(file);
  std::string name(file.substr(0, file.size() - std::string_view(codec::codec_suffix(c)).size()));
  if (!is_wal_name(name)) return std::nullopt;
  return std::make_pair(name, c);
}

bool is_history(std::string_view name) {
  auto parsed = pg::parse_wal_file_name(std::string(name), kShapeSegmentSize);
  return parsed && parsed->kind == pg::WalFileKind::history;
}

// YYYYMMDDTHHMMSSZ, optionally "-N" (a second error of the same second).
bool is_error_stamp(std::string_view s) {
  if (s.size() < 16 || s[8] != 'T' || s[15] != 'Z') return false;
  for (size_t i = 0; i < 15; ++i)
    if (i != 8 && (s[i] < '0' || s[i] > '9')) return false;
  if (s.size() == 16) return true;
  if (s[16] != '-' || s.size() == 17) return false;
  return s.substr(17).find_first_not_of("0123456789") == std::string_view::npos;
}

std::optional<ParsedPath> parse_backup(const std::vector<std::string_view>& parts) {
  if (parts.size() < 2 || !is_backup_id(std::string(parts[1]))) return std::nullopt;
  ParsedPath p{PathKind::backup_dir, std::string(parts[1]), {}, codec::Codec::none, {}};
  if (parts.size() == 2) return p;
  if (parts.size() == 3 && parts[2] == kBackupInfoName)
    return ParsedPath{PathKind::backup_info, p.backup_id, {}, {}, {}};
  if (parts.size() == 3 && parts[2] == kManifest) return ParsedPath{PathKind::backup_manifest, p.backup_id, {}, {}, {}};
  const bool oid =
      !parts[2].empty() && parts[2].size() <= 10 && parts[2].find_first_not_of("0123456789") == std::string_view::npos;
  if (parts.size() < 4 || (parts[2] != kData && !oid)) return std::nullopt;
  std::string rest;
  for (size_t i = 2; i < parts.size(); ++i) rest += (i > 2 ? "/" : "") + std::string(parts[i]);
  return ParsedPath{PathKind::backup_file, p.backup_id, {}, codec::codec_of_suffix(rest), rest};
}

std::optional<ParsedPath> parse_wals(const std::vector<std::string_view>& parts) {
  if (parts.size() == 2 && parts[1] == kXlogdb) return ParsedPath{PathKind::xlogdb, {}, {}, {}, {}};
  if (parts.size() == 2 && parts[1] == kSyncBookmark) return ParsedPath{PathKind::sync_bookmark, {}, {}, {}, {}};
  auto stored = stored_wal(parts.back());
  if (!stored) return std::nullopt;
  // History files directly in wals/, everything else in its hash directory.
  const bool history = is_history(stored->first);
  if (parts.size() == 2 && !history) return std::nullopt;
  if (parts.size() == 3 && (history || parts[1] != pg::wal_hash_dir(stored->first))) return std::nullopt;
  if (parts.size() > 3) return std::nullopt;
  return ParsedPath{PathKind::archived_wal, {}, stored->first, stored->second, {}};
}

std::optional<ParsedPath> parse_streaming(std::string_view file) {
  if (ends_with(file, kPartial)) {
    std::string_view seg = file.substr(0, file.size() - std::string_view(kPartial).size());
    if (!pg::is_segment_name(std::string(seg))) return std::nullopt;
    return ParsedPath{PathKind::streaming_partial, {}, std::string(seg), {}, {}};
  }
  if (!is_wal_name(file)) return std::nullopt;
  return ParsedPath{PathKind::streaming_segment, {}, std::string(file), {}, {}};
}

std::optional<ParsedPath> parse_error(std::string_view file) {
  size_t reason_dot = file.find_last_of('.');
  if (reason_dot == std::string_view::npos || reason_dot == 0) return std::nullopt;
  size_t stamp_dot = file.find_last_of('.', reason_dot - 1);
  if (stamp_dot == std::string_view::npos || stamp_dot == 0) return std::nullopt;
  std::string_view reason = file.substr(reason_dot + 1);
  if (reason.empty() || reason.find_first_not_of("abcdefghijklmnopqrstuvwxyz") != std::string_view::npos)
    return std::nullopt;
  if (!is_error_stamp(file.substr(stamp_dot + 1, reason_dot - stamp_dot - 1))) return std::nullopt;
  return ParsedPath{PathKind::error, {}, std::string(file.substr(0, stamp_dot)), {}, std::string(reason)};
}

}  // namespace

std::string identity_file(const std::string& server_dir) { return join_path(server_dir, kIdentity); }
std::string base_dir(const std::string& server_dir) { return join_path(server_dir, kBase); }
std::string backup_dir(const std::string& server_dir, const std::string& backup_id) {
  return join_path(base_dir(server_dir), backup_id);
}
std::string backup_info_file(const std::string& dir) { return join_path(dir, std::string(kBackupInfoName)); }
std::string backup_manifest_file(const std::string& dir) { return join_path(dir, kManifest); }
std::string backup_data_dir(const std::string& dir) { return join_path(dir, kData); }
std::string backup_tablespace_dir(const std::string& dir, uint32_t oid) { return join_path(dir, std::to_string(oid)); }

std::string wals_dir(const std::string& server_dir) { return join_path(server_dir, kWals); }
std::string xlogdb_file(const std::string& server_dir) { return join_path(wals_dir(server_dir), kXlogdb); }
std::string sync_bookmark_file(const std::string& server_dir) { return join_path(wals_dir(server_dir), kSyncBookmark); }
std::string primary_repository_dir(const std::string& server_dir) {
  return join_path(server_dir, "primary-repository");
}
std::string archived_wal_subdir(const std::string& name) { return is_history(name) ? "" : pg::wal_hash_dir(name); }
std::string archived_wal_dir(const std::string& server_dir, const std::string& name) {
  const std::string sub = archived_wal_subdir(name);
  return sub.empty() ? wals_dir(server_dir) : join_path(wals_dir(server_dir), sub);
}
std::string archived_wal_file(const std::string& server_dir, const std::string& name, codec::Codec codec) {
  return join_path(archived_wal_dir(server_dir, name), name + codec::codec_suffix(codec));
}

std::string streaming_dir(const std::string& server_dir) { return join_path(server_dir, kStreaming); }
std::string partial_name(const std::string& segment) { return segment + kPartial; }
std::string incoming_dir(const std::string& server_dir) { return join_path(server_dir, kIncoming); }
std::string get_wal_prefetch_dir(const std::string& server_dir) { return join_path(server_dir, "get-wal-prefetch"); }
std::string errors_dir(const std::string& server_dir) { return join_path(server_dir, kErrors); }
std::string error_name(const std::string& name, const std::string& stamp, const std::string& reason) {
  return name + "." + stamp + "." + reason;
}
std::string receive_wal_state_file(const std::string& server_dir) { return join_path(server_dir, kSpoolFiles[0]); }
std::string receive_wal_log_file(const std::string& server_dir) { return join_path(server_dir, kSpoolFiles[1]); }
std::string receive_wal_cron_file(const std::string& server_dir) { return join_path(server_dir, kSpoolFiles[2]); }
std::string backup_cron_file(const std::string& server_dir) { return join_path(server_dir, kSpoolFiles[3]); }
std::string backup_log_file(const std::string& server_dir) { return join_path(server_dir, kSpoolFiles[4]); }
std::string receive_wal_daemon_file(const std::string& server_dir) { return join_path(server_dir, kSpoolFiles[5]); }

std::vector<std::string> server_subdirs(const std::string& server_dir) {
  std::vector<std::string> out;
  for (const char* sub : {kBase, kWals, kStreaming, kIncoming, kErrors}) out.push_back(join_path(server_dir, sub));
  return out;
}

std::string auto_config_file(const std::string& home) { return join_path(home, ".cellar.auto.toml"); }
std::string default_log_file(const std::string& home) { return join_path(home, "cellar.log"); }
std::string default_daemon_transcript(const std::string& home) { return join_path(home, "daemon.log"); }
std::string default_daemon_socket(const std::string& lock_dir) { return join_path(lock_dir, ".cellar-daemon.sock"); }
std::string daemon_pid_file(const std::string& socket) { return socket + ".pid"; }

std::optional<ParsedPath> parse_path(std::string_view relative) {
  if (relative.empty() || relative.find('\0') != std::string_view::npos) return std::nullopt;
  const std::vector<std::string_view> parts = split(relative);
  for (std::string_view p : parts)
    if (p.empty() || p == "." || p == ".." || storage::is_temp_name(p)) return std::nullopt;
  const std::string_view top = parts[0];
  if (parts.size() == 1) {
    if (top == kIdentity) return ParsedPath{PathKind::identity, {}, {}, {}, {}};
    for (const char* f : kSpoolFiles)
      if (top == f) return ParsedPath{PathKind::spool_file, {}, {}, {}, std::string(top)};
    return std::nullopt;
  }
  if (top == kBase) return parse_backup(parts);
  if (top == kWals) return parse_wals(parts);
  if (parts.size() != 2) return std::nullopt;
  if (top == kStreaming) return parse_streaming(parts[1]);
  if (top == kIncoming && is_wal_name(parts[1]))
    return ParsedPath{PathKind::incoming, {}, std::string(parts[1]), {}, {}};
  if (top == kErrors) return parse_error(parts[1]);
  return std::nullopt;
}

}  // namespace cellar::layout
