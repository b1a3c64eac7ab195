#include "sync/sync_info.h"

#include "catalog/catalogue.h"
#include "common/fs.h"
#include "common/redact.h"
#include "common/storage.h"
#include "pg/wal_names.h"

namespace cellar::sync {
namespace {

// Accepts every segment numbering (the smallest segment size has the most).
constexpr uint64_t kSmallestSegmentSize = 1024 * 1024;

Json wal_json(const wal::XlogEntry& e) {
  Json o = Json::object();
  o.set("name", e.name);
  o.set("size", static_cast<uint64_t>(e.size));
  o.set("time", e.time);
  o.set("compression", codec::codec_name(e.compression));
  return o;
}

Json backup_json(const catalog::BackupEntry& b) {
  Json o = Json::object();
  for (const auto& [key, value] : catalog::info_fields(b.info)) o.set(key, value.empty() ? Json() : Json(value));
  return o;
}

Json config_json(const ServerConfig& server) {
  Json o = Json::object();
  o.set("name", server.name);
  for (const KeySpec& spec : key_specs()) {
    if (spec.scope == KeyScope::global_only) continue;
    const Setting& s = server.get(spec.key);
    if (!s.is_set)
      o.set(spec.name, Json());
    else if (auto b = std::get_if<bool>(&s.value))
      o.set(spec.name, *b);
    else if (auto i = std::get_if<int64_t>(&s.value))
      o.set(spec.name, *i);
    else
      o.set(spec.name, redact_secrets(std::get<std::string>(s.value)));
  }
  return o;
}

// Index of the first line to send.
Result<size_t> start_index(const std::vector<PositionedEntry>& lines, const SyncInfoRequest& req,
                           const std::string& first_backup_wal) {
  if (req.last_wal.empty()) {
    size_t i = 0;
    while (i < lines.size() && !first_backup_wal.empty() && lines[i].entry.name < first_backup_wal &&
           lines[i].entry.name.find(".history") == std::string::npos)
      ++i;
    return i;
  }
  if (lines.empty() || req.last_wal < lines.front().entry.name)
    return Status::failed("last_wal \"" + req.last_wal + "\" is older than the first available WAL \"" +
                              (lines.empty() ? std::string("(none)") : lines.front().entry.name) + "\"",
                          "run sync-info without LAST_WAL for a full synchronisation");
  if (req.last_wal > lines.back().entry.name)
    return Status::failed(
        "last_wal \"" + req.last_wal + "\" is newer than the last available WAL \"" + lines.back().entry.name + "\"",
        "run sync-info without LAST_WAL for a full synchronisation");
  size_t i = 0;
  if (req.last_position) {
    for (size_t k = 0; k < lines.size(); ++k)
      if (lines[k].offset == *req.last_position && lines[k].entry.name == req.last_wal) i = k;
  }
  while (i < lines.size() && lines[i].entry.name <= req.last_wal) ++i;
  return i;
}

}  // namespace

Result<std::vector<PositionedEntry>> read_positioned_xlogdb(const std::string& path) {
  std::vector<PositionedEntry> out;
  if (!storage::exists(storage::root(), path)) return out;
  auto text = storage::read_file(storage::root(), path);
  if (!text) return text.status();
  size_t at = 0;
  int line_no = 0;
  for (size_t nl; (nl = text->find('\n', at)) != std::string::npos; at = nl + 1) {
    ++line_no;
    auto entry = wal::parse_xlog_entry(text->substr(at, nl - at));
    if (!entry) return Status::failed("malformed line " + std::to_string(line_no) + " in \"" + path + "\"");
    out.push_back({*entry, at});
  }
  return out;  // a torn last line (no '\n') is not part of the catalogue yet
}

Result<Json> make_sync_info(const Config& config, const ServerConfig& server, const SyncInfoRequest& req) {
  return make_sync_info_at(config, server, config.server_dir(server.name), req);
}

Result<Json> make_sync_info_at(const Config& config, const ServerConfig& server, const std::string& server_dir,
                               const SyncInfoRequest& req) {
  if (!req.last_wal.empty() && !pg::parse_wal_file_name(req.last_wal, kSmallestSegmentSize))
    return Status::usage("\"" + req.last_wal + "\" is not a WAL file name");
  auto catalogue = catalog::load_catalogue_at(config, server.name, server_dir);
  if (!catalogue) return catalogue.status();
  auto lines = read_positioned_xlogdb(wal::xlogdb_path(server_dir));
  if (!lines) return lines.status();

  Json backups = Json::object();
  std::string first_backup_wal;
  for (const catalog::BackupEntry& b : catalogue->backups) {
    if (b.status != catalog::BackupStatus::done) continue;
    if (first_backup_wal.empty()) first_backup_wal = b.info.begin_wal;
    backups.set(b.info.backup_id, backup_json(b));
  }
  auto start = start_index(*lines, req, first_backup_wal);
  if (!start) return start.status();
  Json wals = Json::array();
  for (size_t i = *start; i < lines->size(); ++i) wals.push(wal_json((*lines)[i].entry));

  Json doc = Json::object();
  doc.set("last_position", lines->empty() ? uint64_t{0} : lines->back().offset);
  doc.set("last_name", lines->empty() ? std::string() : lines->back().entry.name);
  doc.set("backups", std::move(backups));
  doc.set("wals", std::move(wals));
  doc.set("version", CELLAR_VERSION);
  doc.set("config", config_json(server));
  return doc;
}

}  // namespace cellar::sync
