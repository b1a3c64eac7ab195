// The value types of backup.info that are more than a string or a number,
// each with its text form as the file holds it (SPEC §3, Barman's format):
// the status (STARTED, WAITING_FOR_WALS, DONE, FAILED, SYNCING, and Barman's
// EMPTY), the begin/end times ("2026-11-22 10:08:10+01:00", Barman adds
// microseconds) and the tablespace list (Python's repr of Barman's tuples).
// Parsers are strict: a value that is not exactly one of these shapes is
// rejected, so a damaged backup.info fails its load instead of passing a
// half-read value on. backup_info.h puts them together into the file.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

namespace cellar::catalog {

// Lifecycle (docs/on-disk-formats.md): STARTED → WAITING_FOR_WALS → DONE, or
// FAILED; SYNCING while a passive node copies it; EMPTY is what Barman
// writes before a backup starts (cellar never does, but reads it).
enum class BackupStatus { empty, started, waiting_for_wals, done, failed, syncing };

// "WAITING_FOR_WALS" ...; the text list-backups, show-backup and JSON print.
std::string status_name(BackupStatus status);
std::optional<BackupStatus> parse_status(const std::string& text);

// An instant as backup.info spells it: the UTC offset and the fraction of
// a second it was written with are kept, so a file read and saved again
// keeps its times byte for byte (a Barman file's too), and messages quote
// them as the file has them.
struct Timestamp {
  std::time_t epoch = 0;   // whole seconds
  int32_t utc_offset = 0;  // seconds east of UTC
  std::string fraction;    // digits after the seconds, as written: Barman's "839146", cellar's ""
  // `t` in this host's time zone: what cellar writes.
  static Timestamp local(std::time_t t);
  bool operator==(const Timestamp&) const = default;
};

// "2026-11-22 10:08:10[.ffffff]+01:00" and back. parse_timestamp accepts
// "YYYY-MM-DD HH:MM:SS", an optional fraction of 1 to 6 digits and an
// optional "+HH:MM"/"-HH:MM" (UTC without one); nothing else.
std::string format_timestamp(const Timestamp& t);
std::optional<Timestamp> parse_timestamp(const std::string& text);
// format_timestamp(Timestamp::local(t)).
std::string format_time(std::time_t t);
// "Sun Nov 22 10:08:40 2026" in this host's zone (list-backups).
std::string format_ctime(std::time_t t);

struct Tablespace {
  std::string name;
  uint32_t oid = 0;
  std::string location;
  bool operator==(const Tablespace&) const = default;
};

// Barman's repr: "[('tbs1', 16387, '/loc'), ...]"; "" (None) when empty.
// Names and locations hold no quote; parse_tablespaces rejects any other
// shape (and "" or "[]" is the empty list).
std::string format_tablespaces(const std::vector<Tablespace>& list);
std::optional<std::vector<Tablespace>> parse_tablespaces(const std::string& text);

}  // namespace cellar::catalog
