// <home>/<server>/base/<id>/backup.info (SPEC §3, Barman's format): one
// key=value line per key, keys sorted, "None" for no value; saved durably
// (write_file_atomic) on every status change, so a reader sees either the
// previous or the next version, never a torn one. Also the backup's
// statuses, the time format of begin_time/end_time and the tablespace list.
#pragma once

#include <cstdint>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace cellar::catalog {

namespace status_name {
inline constexpr const char* started = "STARTED";
inline constexpr const char* waiting_for_wals = "WAITING_FOR_WALS";
inline constexpr const char* done = "DONE";
inline constexpr const char* failed = "FAILED";
}  // namespace status_name

struct Tablespace {
  std::string name;
  uint32_t oid = 0;
  std::string location;
  bool operator==(const Tablespace&) const = default;
};

class BackupInfo {
 public:
  // Every key SPEC §3 lists, with "None" values, so the file always has all.
  static BackupInfo empty();
  std::string get(const std::string& key) const;  // "" for None or absent
  void set(const std::string& key, const std::string& value);  // "" writes None
  void set_number(const std::string& key, uint64_t value) { set(key, std::to_string(value)); }
  uint64_t number(const std::string& key) const;
  const std::map<std::string, std::string>& fields() const { return fields_; }

  std::string id() const { return get("backup_id"); }
  std::string status() const { return get("status"); }
  // WAITING_FOR_WALS or DONE: the files are all there.
  bool copy_done() const;

 private:
  std::map<std::string, std::string> fields_;  // "None" stored as ""
};

std::string format_backup_info(const BackupInfo& info);
Result<BackupInfo> parse_backup_info(const std::string& text, const std::string& path);

// <backup_dir>/backup.info
std::string backup_info_path(const std::string& backup_dir);
Result<BackupInfo> load_backup_info(const std::string& backup_dir);
Status save_backup_info(const std::string& backup_dir, const BackupInfo& info);

// "2026-11-22 10:08:10+01:00" (local time with offset) and back to epoch.
std::string format_time(std::time_t t);
std::optional<std::time_t> parse_time(const std::string& text);
// "Sun Nov 22 10:08:40 2026" (list-backups).
std::string format_ctime(std::time_t t);

// Barman's repr: [('tbs1', 16387, '/loc'), ...]; "" (None) when empty.
std::string format_tablespaces(const std::vector<Tablespace>& list);
std::vector<Tablespace> parse_tablespaces(const std::string& text);

}  // namespace cellar::catalog
