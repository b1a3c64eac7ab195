#include "catalog/backup_info.h"
#include "config/layout.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "common/fs.h"
#include "common/storage.h"

namespace cellar::catalog {
namespace {

const char* const kKeys[] = {"backup_id", "backup_name", "server_name", "status", "mode", "begin_time", "end_time",
                             "begin_wal", "end_wal", "begin_xlog", "end_xlog", "begin_offset", "end_offset",
                             "timeline", "systemid", "version", "size", "deduplicated_size", "compression",
                             "tablespaces", "keep", "error", "pgdata", "config_file", "hba_file", "ident_file",
                             "xlog_segment_size", "copy_stats", "cluster_size", "data_checksums"};

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

}  // namespace

BackupInfo BackupInfo::empty() {
  BackupInfo info;
  for (const char* k : kKeys) info.fields_[k] = "";
  return info;
}

std::string BackupInfo::get(const std::string& key) const {
  auto it = fields_.find(key);
  return it == fields_.end() ? "" : it->second;
}

void BackupInfo::set(const std::string& key, const std::string& value) { fields_[key] = value; }

uint64_t BackupInfo::number(const std::string& key) const { return std::strtoull(get(key).c_str(), nullptr, 10); }

bool BackupInfo::copy_done() const { return status() == status_name::waiting_for_wals || status() == status_name::done; }

std::string format_backup_info(const BackupInfo& info) {
  std::string out;
  for (const auto& [k, v] : info.fields()) {
    if (k == "backup_name" && v.empty()) continue;  // Barman omits a null name
    out += k + "=" + (v.empty() ? "None" : v) + "\n";
  }
  return out;
}

Result<BackupInfo> parse_backup_info(const std::string& text, const std::string& path) {
  BackupInfo info = BackupInfo::empty();
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
    std::string value = trim(t.substr(eq + 1));
    info.set(trim(t.substr(0, eq)), value == "None" ? "" : value);
  }
  return info;
}

std::string backup_info_path(const std::string& backup_dir) { return layout::backup_info_file(backup_dir); }

Result<BackupInfo> load_backup_info(const std::string& backup_dir) {
  std::string path = backup_info_path(backup_dir);
  auto text = read_file(path);
  if (!text) return text.status();
  return parse_backup_info(*text, path);
}

Status save_backup_info(const std::string& backup_dir, const BackupInfo& info) {
  return storage::write_file(storage::local(), backup_info_path(backup_dir), format_backup_info(info));
}

std::string format_time(std::time_t t) {
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  long off = tm.tm_gmtoff;
  char sign = off < 0 ? '-' : '+';
  off = off < 0 ? -off : off;
  char zone[48];
  std::snprintf(zone, sizeof zone, "%c%02ld:%02ld", sign, off / 3600, (off % 3600) / 60);
  return std::string(buf) + zone;
}

std::optional<std::time_t> parse_time(const std::string& text) {
  std::tm tm{};
  int y, mo, d, h, mi, s, oh = 0, om = 0;
  char sign = '+';
  double frac = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%d %d:%d:%d", &y, &mo, &d, &h, &mi, &s) != 6) return std::nullopt;
  size_t zpos = text.find_first_of("+-", 19);
  if (zpos != std::string::npos) {
    sign = text[zpos];
    std::sscanf(text.c_str() + zpos + 1, "%d:%d", &oh, &om);
  }
  (void)frac;
  tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d, tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = s;
  std::time_t utc = timegm(&tm);
  long off = (oh * 3600L + om * 60L) * (sign == '-' ? -1 : 1);
  return utc - off;
}

std::string format_ctime(std::time_t t) {
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a %b %d %H:%M:%S %Y", &tm);
  return buf;
}

std::string format_tablespaces(const std::vector<Tablespace>& list) {
  if (list.empty()) return "";
  std::string out = "[";
  for (size_t i = 0; i < list.size(); ++i) {
    if (i) out += ", ";
    out += "('" + list[i].name + "', " + std::to_string(list[i].oid) + ", '" + list[i].location + "')";
  }
  return out + "]";
}

std::vector<Tablespace> parse_tablespaces(const std::string& text) {
  // Each tuple: ('name', oid, 'location'); names and locations hold no quote.
  std::vector<Tablespace> out;
  size_t pos = 0;
  while ((pos = text.find("('", pos)) != std::string::npos) {
    size_t name_end = text.find("', ", pos + 2);
    if (name_end == std::string::npos) break;
    size_t oid_end = text.find(", '", name_end + 3);
    if (oid_end == std::string::npos) break;
    size_t loc_end = text.find("')", oid_end + 3);
    if (loc_end == std::string::npos) break;
    Tablespace t;
    t.name = text.substr(pos + 2, name_end - pos - 2);
    t.oid = static_cast<uint32_t>(std::strtoul(text.substr(name_end + 3, oid_end - name_end - 3).c_str(), nullptr, 10));
    t.location = text.substr(oid_end + 3, loc_end - oid_end - 3);
    out.push_back(std::move(t));
    pos = loc_end + 2;
  }
  return out;
}

}  // namespace cellar::catalog
