// <home>/<server>/base/<id>/backup.info (SPEC §3, Barman's format): one
// key=value line per key, keys sorted, "None" for no value; saved durably
// (storage::write_file) on every status change, so a reader sees either the
// previous or the next version, never a torn one.
//
// BackupInfo is the one typed description of the file: a plain struct with
// one member per key, each with its C++ type. backup_info.cpp holds the
// only table that names the keys (key, member pointer; the formatter and
// parser follow from the member's type), and format, parse, the JSON of
// list-backups/show-backup/sync-info and sync-backup's copy all go through
// it. A plain struct rather than typed keys over a map of strings
// (`info.get(Field<uint64_t>{"size"})`) because member access reads as
// ordinary code, a misspelled member does not compile, and values are
// parsed once, when the file is loaded: a bad number, time or status fails
// the load naming the file and the key, instead of turning into 0 or ""
// wherever someone reads it. A member missing from the table would not be
// saved; the test that formats a fully populated BackupInfo catches it.
//
// Keys the table does not know (written by Barman or a newer cellar) are
// kept as text in `unknown` and written back on save. Values of the
// other types are in backup_values.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "catalog/backup_values.h"
#include "common/status.h"

namespace cellar::catalog {

// "" and empty lists are written "None"; so is an unset optional.
struct BackupInfo {
  std::string backup_id;
  std::string backup_name;  // `backup --name`; left out of the file when empty
  std::string server_name;
  BackupStatus status = BackupStatus::empty;
  std::string mode;  // "postgres"
  std::optional<Timestamp> begin_time;
  std::optional<Timestamp> end_time;
  std::string begin_wal;  // segment names; end_wal holds end_xlog - 1
  std::string end_wal;
  std::string begin_xlog;  // LSNs as PostgreSQL prints them, "0/3000028"
  std::string end_xlog;
  std::optional<uint64_t> begin_offset;  // of begin_xlog in its segment
  std::optional<uint64_t> end_offset;
  std::optional<uint64_t> timeline;
  std::string systemid;
  std::optional<uint64_t> version;            // server_version_num
  std::optional<uint64_t> size;               // stored bytes
  std::optional<uint64_t> deduplicated_size;  // stored bytes not hard-linked to the previous backup
  std::optional<uint64_t> cluster_size;       // bytes before compression
  std::string compression;                    // codec name
  std::string encryption;                     // "aes-256-gcm:<key id>" when the files are encrypted; "" (None) not
  std::vector<Tablespace> tablespaces;
  std::string keep;   // "full", "standalone" or ""
  std::string error;  // why it is FAILED
  std::string pgdata;
  std::string config_file;
  std::string hba_file;
  std::string ident_file;
  std::string data_checksums;  // "on" / "off"
  std::optional<uint64_t> xlog_segment_size;
  std::string copy_stats;                      // {'copy_time': 1.234, 'number_of_workers': 2}
  std::string type;                            // "full" or "incremental" (docs/incremental.md); "" (None) = full
  std::string parent_backup_id;                // an incremental's parent; "" (None) for a full
  std::map<std::string, std::string> unknown;  // other keys as read, "" for None

  // WAITING_FOR_WALS or DONE: the files are all there.
  bool copy_done() const;
  bool incremental() const { return type == "incremental"; }
  bool operator==(const BackupInfo&) const = default;
};

// Every key, known and unknown, sorted, with its text ("" for None): what
// show-backup and the JSON documents print, and what the file holds.
std::map<std::string, std::string> info_fields(const BackupInfo& info);
// Sets `key` from its text ("" or "None" for None); an unknown key goes to
// `unknown`. Fails naming the key and the value when the text is not of
// the key's type. How the file's lines and a primary's fields are read.
Status parse_info_field(BackupInfo& info, const std::string& key, const std::string& text);

std::string format_backup_info(const BackupInfo& info);
// Fails naming `path` and the line or key when a line has no '=' or a value
// is not of its key's type.
Result<BackupInfo> parse_backup_info(const std::string& text, const std::string& path);

// <backup_dir>/backup.info
std::string backup_info_path(const std::string& backup_dir);
Result<BackupInfo> load_backup_info(const std::string& backup_dir);
Status save_backup_info(const std::string& backup_dir, const BackupInfo& info);

}  // namespace cellar::catalog
