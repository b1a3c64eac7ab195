#include "catalog/backup_info.h"

#include <charconv>
#include <sstream>
#include <string_view>

#include "common/fs.h"
#include "common/storage.h"
#include "config/layout.h"

namespace cellar::catalog {
namespace {

// The text of each value type, "" for None.
std::string format_value(const std::string& v) { return v; }
std::string format_value(const std::optional<uint64_t>& v) { return v ? std::to_string(*v) : ""; }
std::string format_value(const std::optional<Timestamp>& v) { return v ? format_timestamp(*v) : ""; }
std::string format_value(BackupStatus v) { return status_name(v); }
std::string format_value(const std::vector<Tablespace>& v) { return format_tablespaces(v); }

// Each reads `text` ("" for None) into `out` and returns "", or what the
// text should have been (leaving `out` alone).
std::string parse_value(const std::string& text, std::string& out) {
  out = text;
  return "";
}

std::string parse_value(const std::string& text, std::optional<uint64_t>& out) {
  if (text.empty()) {
    out.reset();
    return "";
  }
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return "an unsigned integer";
  out = v;
  return "";
}

std::string parse_value(const std::string& text, std::optional<Timestamp>& out) {
  auto t = text.empty() ? std::optional<Timestamp>() : parse_timestamp(text);
  if (!text.empty() && !t) return "a time such as \"2026-11-22 10:08:10+01:00\"";
  out = t;
  return "";
}

std::string parse_value(const std::string& text, BackupStatus& out) {
  auto s = parse_status(text);
  if (!s) return "one of STARTED, WAITING_FOR_WALS, DONE, FAILED, SYNCING, EMPTY";
  out = *s;
  return "";
}

std::string parse_value(const std::string& text, std::vector<Tablespace>& out) {
  auto list = parse_tablespaces(text);
  if (!list) return "a list such as \"[('tbs1', 16387, '/location')]\"";
  out = std::move(*list);
  return "";
}

// One key of the file: its name and how its member is written and read.
struct FieldSpec {
  std::string_view key;
  std::string (*format)(const BackupInfo&);
  std::string (*parse)(BackupInfo&, const std::string&);
};

template <auto Member>
constexpr FieldSpec field(std::string_view key) {
  return {key, [](const BackupInfo& i) { return format_value(i.*Member); },
          [](BackupInfo& i, const std::string& text) { return parse_value(text, i.*Member); }};
}

// The only place a key of backup.info is spelled (SPEC §3 order).
constexpr FieldSpec kFields[] = {
    field<&BackupInfo::backup_id>("backup_id"),
    field<&BackupInfo::backup_name>("backup_name"),
    field<&BackupInfo::server_name>("server_name"),
    field<&BackupInfo::status>("status"),
    field<&BackupInfo::mode>("mode"),
    field<&BackupInfo::begin_time>("begin_time"),
    field<&BackupInfo::end_time>("end_time"),
    field<&BackupInfo::begin_wal>("begin_wal"),
    field<&BackupInfo::end_wal>("end_wal"),
    field<&BackupInfo::begin_xlog>("begin_xlog"),
    field<&BackupInfo::end_xlog>("end_xlog"),
    field<&BackupInfo::begin_offset>("begin_offset"),
    field<&BackupInfo::end_offset>("end_offset"),
    field<&BackupInfo::timeline>("timeline"),
    field<&BackupInfo::systemid>("systemid"),
    field<&BackupInfo::version>("version"),
    field<&BackupInfo::size>("size"),
    field<&BackupInfo::deduplicated_size>("deduplicated_size"),
    field<&BackupInfo::compression>("compression"),
    field<&BackupInfo::encryption>("encryption"),
    field<&BackupInfo::tablespaces>("tablespaces"),
    field<&BackupInfo::keep>("keep"),
    field<&BackupInfo::error>("error"),
    field<&BackupInfo::pgdata>("pgdata"),
    field<&BackupInfo::config_file>("config_file"),
    field<&BackupInfo::hba_file>("hba_file"),
    field<&BackupInfo::ident_file>("ident_file"),
    field<&BackupInfo::xlog_segment_size>("xlog_segment_size"),
    field<&BackupInfo::copy_stats>("copy_stats"),
    field<&BackupInfo::cluster_size>("cluster_size"),
    field<&BackupInfo::data_checksums>("data_checksums"),
    field<&BackupInfo::type>("type"),
    field<&BackupInfo::parent_backup_id>("parent_backup_id"),
};

// Sets one key; returns "" or what its text should have been.
std::string set_field(BackupInfo& info, const std::string& key, const std::string& text) {
  const std::string value = text == "None" ? "" : text;
  for (const auto& f : kFields)
    if (f.key == key) return f.parse(info, value);
  info.unknown[key] = value;
  return "";
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

}  // namespace

bool BackupInfo::copy_done() const { return status == BackupStatus::waiting_for_wals || status == BackupStatus::done; }

std::map<std::string, std::string> info_fields(const BackupInfo& info) {
  std::map<std::string, std::string> out = info.unknown;
  for (const auto& f : kFields) out[std::string(f.key)] = f.format(info);
  return out;
}

Status parse_info_field(BackupInfo& info, const std::string& key, const std::string& text) {
  std::string expected = set_field(info, key, text);
  if (expected.empty()) return Status::ok();
  return Status::failed("invalid " + key + " \"" + text + "\": expected " + expected);
}

std::string format_backup_info(const BackupInfo& info) {
  std::string out;
  for (const auto& [k, v] : info_fields(info)) {
    if (k == "backup_name" && v.empty()) continue;  // Barman omits a null name
    if (k == "encryption" && v.empty()) continue;   // cellar's key: only where it says something
    out += k + "=" + (v.empty() ? "None" : v) + "\n";
  }
  return out;
}

Result<BackupInfo> parse_backup_info(const std::string& text, const std::string& path) {
  BackupInfo info;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    size_t eq = t.find('=');
    if (eq == std::string::npos)
      return Status::failed("invalid line " + std::to_string(n) + " in \"" + path + "\": no '='");
    std::string key = trim(t.substr(0, eq)), value = trim(t.substr(eq + 1));
    std::string expected = set_field(info, key, value);
    if (!expected.empty())
      return Status::failed("invalid " + key + " \"" + value + "\" in \"" + path + "\" line " + std::to_string(n) +
                            ": expected " + expected);
  }
  return info;
}

std::string backup_info_path(const std::string& backup_dir) { return layout::backup_info_file(backup_dir); }

Result<BackupInfo> load_backup_info(const std::string& backup_dir) {
  std::string path = backup_info_path(backup_dir);
  auto text = storage::read_file(storage::root(), path);
  if (!text) return text.status();
  return parse_backup_info(*text, path);
}

Status save_backup_info(const std::string& backup_dir, const BackupInfo& info) {
  return storage::write_file(storage::root(), backup_info_path(backup_dir), format_backup_info(info));
}

}  // namespace cellar::catalog
