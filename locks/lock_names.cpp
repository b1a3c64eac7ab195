// The grammar of lock file names. Each kind is one row of kShapes: a fixed
// suffix, and whether a server name and a backup id precede it. The factory of
// a kind strips the "." prefix and its suffix, splits off the backup id where
// the kind has one, and accepts the rest only if it is a valid server name.
// A hand parser rather than std::regex: `cellar locks` parses every file of a
// 10,000-file directory, and the patterns in lock_file_pattern() document the
// same grammar (tests check that both agree).
#include "locks/lock_names.h"

#include <array>
#include <string_view>

#include "config/names.h"

namespace cellar::locks {
namespace {

struct Shape {
  LockKind kind;
  const char* word;    // the KIND word of `cellar lock`
  const char* suffix;  // what follows ".<server>[-<backup_id>]"
  bool has_server;
  bool has_backup_id;
  bool waits;
  const char* pattern;  // anchored, Python-style named groups (documentation)
};

#define SERVER_RE "(?P<server>[A-Za-z0-9_][A-Za-z0-9_.-]{0,63})"
#define ID_RE "(?P<backup_id>[0-9]{8}T[0-9]{6})"

// SPEC §5.2 order.
constexpr std::array<Shape, 10> kShapes{{
    {LockKind::global_cron, "global-cron", ".cron.lock", false, false, false, R"(^\.cron\.lock$)"},
    {LockKind::config_update, "config-update", ".config-update.lock", false, false, false,
     R"(^\.config-update\.lock$)"},
    {LockKind::backup, "backup", "-backup.lock", true, false, false, R"(^\.)" SERVER_RE R"(-backup\.lock$)"},
    {LockKind::cron, "cron", "-cron.lock", true, false, false, R"(^\.)" SERVER_RE R"(-cron\.lock$)"},
    {LockKind::xlogdb, "xlogdb", "-xlogdb.lock", true, false, true, R"(^\.)" SERVER_RE R"(-xlogdb\.lock$)"},
    {LockKind::archive_wal, "archive-wal", "-archive-wal.lock", true, false, false,
     R"(^\.)" SERVER_RE R"(-archive-wal\.lock$)"},
    {LockKind::receive_wal, "receive-wal", "-receive-wal.lock", true, false, false,
     R"(^\.)" SERVER_RE R"(-receive-wal\.lock$)"},
    {LockKind::sync_wal, "sync-wal", "-sync-wal.lock", true, false, true, R"(^\.)" SERVER_RE R"(-sync-wal\.lock$)"},
    {LockKind::backup_id, "backup-id", ".lock", true, true, false, R"(^\.)" SERVER_RE "-" ID_RE R"(\.lock$)"},
    {LockKind::sync_backup, "sync-backup", "-sync-backup.lock", true, true, false,
     R"(^\.)" SERVER_RE "-" ID_RE R"(-sync-backup\.lock$)"},
}};

#undef SERVER_RE
#undef ID_RE

const Shape& shape_of(LockKind kind) { return kShapes[static_cast<size_t>(kind)]; }

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// A backup id is exactly 15 characters (YYYYMMDDTHHMMSS).
constexpr size_t kBackupIdLength = 15;

// validate_server_name (config/names.h) is the authority, but it runs a
// std::regex for its "-<backup id>-sync" rule, which would dominate a scan
// of 10,000 names. Its other rules are checked here by hand first; the regex
// runs only for the names it can concern (ending in "-sync"). A test checks
// that this agrees with is_valid_server_name.
bool server_name_ok(std::string_view s) {
  if (s.empty() || s.size() > 64 || s[0] == '.' || s[0] == '-') return false;
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
          c == '-'))
      return false;
  if (s == "all" || s == "global" || s == "cellar") return false;
  return !ends_with(s, "-sync") || is_valid_server_name(std::string(s));
}

std::optional<LockName> parse_as(const Shape& shape, std::string_view file) {
  if (!shape.has_server) {
    if (file != shape.suffix) return std::nullopt;
    return LockName{shape.kind, "", ""};
  }
  if (file.size() < 2 || file[0] != '.' || !ends_with(file, shape.suffix)) return std::nullopt;
  std::string_view middle = file.substr(1, file.size() - 1 - std::string_view(shape.suffix).size());
  std::string backup_id;
  if (shape.has_backup_id) {
    if (middle.size() < kBackupIdLength + 2 || middle[middle.size() - kBackupIdLength - 1] != '-') return std::nullopt;
    backup_id = std::string(middle.substr(middle.size() - kBackupIdLength));
    if (!is_backup_id(backup_id)) return std::nullopt;
    middle = middle.substr(0, middle.size() - kBackupIdLength - 1);
  }
  if (!server_name_ok(middle)) return std::nullopt;
  return LockName{shape.kind, std::string(middle), std::move(backup_id)};
}

std::string kind_list() {
  std::string s;
  for (const auto& shape : kShapes) s += (s.empty() ? "" : ", ") + std::string(shape.word);
  return s;
}

}  // namespace

const std::vector<LockKind>& all_kinds() {
  static const std::vector<LockKind> kinds = [] {
    std::vector<LockKind> v;
    for (const auto& shape : kShapes) v.push_back(shape.kind);
    return v;
  }();
  return kinds;
}

const char* kind_name(LockKind kind) { return shape_of(kind).word; }

std::optional<LockKind> parse_kind(const std::string& word) {
  for (const auto& shape : kShapes)
    if (word == shape.word) return shape.kind;
  return std::nullopt;
}

bool is_global(LockKind kind) { return !shape_of(kind).has_server; }
bool needs_backup_id(LockKind kind) { return shape_of(kind).has_backup_id; }
bool waits_by_default(LockKind kind) { return shape_of(kind).waits; }
const char* lock_file_pattern(LockKind kind) { return shape_of(kind).pattern; }

std::string make_lock_file_name(const LockName& name) {
  const Shape& shape = shape_of(name.kind);
  if (!shape.has_server) return shape.suffix;
  std::string file = "." + name.server;
  if (shape.has_backup_id) file += "-" + name.backup_id;
  return file + shape.suffix;
}

std::optional<LockName> parse_lock_file_name(const std::string& file_name) {
  // Cheap pre-filter: every lock file is ".*.lock".
  if (file_name.empty() || file_name[0] != '.' || !ends_with(file_name, ".lock")) return std::nullopt;
  // At most one kind matches (see the header); trying sync-backup before
  // backup spares a server-name check of "<server>-<id>-sync".
  for (auto shape = kShapes.rbegin(); shape != kShapes.rend(); ++shape)
    if (auto name = parse_as(*shape, file_name)) return name;
  return std::nullopt;
}

std::string make_resource_name(const LockName& name) {
  std::string file = make_lock_file_name(name);
  return file.substr(1, file.size() - 1 - std::string(".lock").size());
}

std::optional<LockName> parse_resource_name(const std::string& resource) {
  if (resource.empty() || resource[0] == '.' || resource.find('/') != std::string::npos) return std::nullopt;
  return parse_lock_file_name("." + resource + ".lock");
}

std::string make_hold_file_name(const LockName& name) { return "." + make_resource_name(name) + ".hold"; }
std::string make_token_file_name(const LockName& name) { return "." + make_resource_name(name) + ".token"; }

std::optional<LockName> parse_hold_file_name(const std::string& file_name) {
  if (file_name.size() < 7 || file_name[0] != '.' || !ends_with(file_name, ".hold")) return std::nullopt;
  return parse_resource_name(file_name.substr(1, file_name.size() - 6));
}

std::optional<LockName> parse_lock_file_name_as(LockKind kind, const std::string& file_name) {
  return parse_as(shape_of(kind), file_name);
}

Result<LockName> make_lock_name(const std::string& kind, const std::string& server, const std::string& backup_id) {
  auto k = parse_kind(kind);
  if (!k) return Status::usage("unknown lock kind \"" + kind + "\"", "use one of: " + kind_list());
  if (is_global(*k)) {
    if (!server.empty())
      return Status::usage("lock kind \"" + kind + "\" is global and takes no SERVER",
                           "run 'cellar lock " + kind + " -- COMMAND'");
    return LockName{*k, "", ""};
  }
  if (server.empty())
    return Status::usage("lock kind \"" + kind + "\" needs a SERVER",
                         "run 'cellar lock " + kind + " SERVER -- COMMAND'");
  if (Status st = validate_server_name(server); !st) return st;
  if (!needs_backup_id(*k)) {
    if (!backup_id.empty())
      return Status::usage("lock kind \"" + kind + "\" takes no BACKUP_ID",
                           "only backup-id and sync-backup locks name a backup");
    return LockName{*k, server, ""};
  }
  if (backup_id.empty())
    return Status::usage("lock kind \"" + kind + "\" needs a BACKUP_ID",
                         "run 'cellar lock " + kind + " SERVER BACKUP_ID -- COMMAND'");
  if (!is_backup_id(backup_id))
    return Status::usage("invalid backup id \"" + backup_id + "\"", "a backup id looks like 20240101T000000");
  return LockName{*k, server, backup_id};
}

}  // namespace cellar::locks
