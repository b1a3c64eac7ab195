// `cellar status SERVER*` (SPEC §1): what a DBA wants to see at a glance
// about one server — PostgreSQL (version, system id, current LSN and WAL
// segment), its replication slot, the receive-wal process (PID, uptime, last
// flushed LSN, lag in bytes), the backups (count, first, last, failed) and
// the WAL archive (files, size, last one). Collecting never fails as a
// whole: what cannot be learnt (PostgreSQL down) is left empty with the
// reason in `postgres_error`. Takes no lock. Rendering: text and JSON.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "config/config.h"

namespace cellar::check {

struct ServerStatus {
  std::string server;
  std::string description;
  bool active = true;
  bool passive = false;
  // PostgreSQL (empty when unreachable or passive)
  std::string postgres_error;
  std::string pg_version;  // e.g. "15.4"
  std::string systemid;    // from the server, else identity.json
  std::string current_lsn;
  std::string current_wal;  // segment holding current_lsn
  bool in_recovery = false;
  // replication slot
  std::string slot_name;
  std::optional<bool> slot_active;  // none: the slot does not exist (or unknown)
  std::string slot_restart_lsn;
  // receive-wal
  bool streaming_archiver = true;
  std::optional<int64_t> receiver_pid;
  std::optional<int64_t> receiver_uptime;  // seconds
  std::string flushed_lsn;
  std::optional<int64_t> lag_bytes;  // current_lsn - flushed_lsn
  std::string receiver_error;        // the receiver's last error, if any
  // backups
  int backups = 0;  // DONE
  int failed_backups = 0;
  std::string first_backup;                      // oldest DONE id, "" if none
  std::string last_backup;                       // newest DONE id
  std::optional<int64_t> last_backup_end;        // its end_time (unix seconds), if recorded
  std::optional<uint64_t> last_backup_size;      // its stored bytes, if recorded
  std::map<std::string, int> backups_by_status;  // every backup by effective status ("DONE", ...)
  bool catalogue_read = false;                   // false: archive_error says why
  std::string retention_policy;                  // "" = not enforced
  int64_t minimum_redundancy = 0;
  // WAL archive
  int wal_files = 0;
  uint64_t wal_bytes = 0;  // stored bytes (xlog.db sizes)
  std::string last_wal;
  std::optional<double> last_segment_time;  // xlog.db time of the newest archived segment
  bool xlogdb_read = false;                 // false: archive_error says why
  std::string archive_error;                // xlog.db or catalogue unreadable
};

ServerStatus collect_status(const Config& config, const ServerConfig& server);

// "Server NAME:" then "\tField: value" lines (Barman's layout).
std::string render_status_text(const std::vector<ServerStatus>& servers);
// {"NAME": {"pg_version": ..., ...}, ...}
Json render_status_json(const std::vector<ServerStatus>& servers);

}  // namespace cellar::check
