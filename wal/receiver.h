// receive-wal: streams WAL from a server's physical replication slot into
// <server>/streaming/, holding the receive-wal lock for its whole life.
// It resumes from what is already on disk (streaming/ segments and .partial,
// then the archive), else the slot's restart_lsn, else the server's current
// position; follows timeline switches; reports as flushed only what is
// fsynced; reconnects with a growing delay; stops cleanly on SIGTERM/SIGINT.
// A small state file (<server>/receive-wal.state) tells `--status` and
// `status` where it is.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"
#include "config/config.h"
#include "locks/typed_lock.h"
#include "pg/wal_names.h"

namespace cellar::wal {

struct ReceiverOptions {
  std::string server;           // server name, for messages
  std::string server_dir;       // <home>/<server>
  std::string conninfo;         // streaming_conninfo (replication connection)
  std::string slot_name;        // "" = no slot
  bool create_slot = false;     // create_slot = "auto"
  int backoff_limit_secs = 10;  // receive_wal_backoff_limit
  std::chrono::milliseconds status_interval{10000};
  // Silence from the server this long ends the connection (a reply is asked
  // for at half of it), like PostgreSQL's wal_receiver_timeout.
  std::chrono::milliseconds receiver_timeout{60000};
  // Several hosts may take turns streaming this server (lock_backend =
  // "etcd"): report as flushed only what is fsynced here AND archived in the
  // repository, so the slot keeps every byte another host may need when it
  // resumes from the archive after this host died with WAL in its spool.
  bool acknowledge_archived_only = false;
  // With several hosts (lock_backend = "etcd"): holding the cluster-wide
  // receive-wal lock, end a walsender that still has the slot active (its
  // client lost the lock while frozen or cut off; PostgreSQL would keep it
  // for wal_sender_timeout). Over a normal connection (`sql_conninfo`).
  bool take_over_slot = false;
  std::string sql_conninfo;
};

ReceiverOptions receiver_options(const Config& config, const ServerConfig& server);

// Runs until SIGTERM/SIGINT (returns ok) or a problem retrying cannot fix
// (a different cluster, a missing slot without create_slot=auto). Installs
// the handlers of common/signals.h; signals::request_stop() stops it too.
Status run_receiver(const locks::ReceiveWalLock& lock, const ReceiverOptions& options);

// Where streaming resumes, from the files alone: the segment after the
// highest complete one, or the start of the highest .partial (on its
// timeline), looking at streaming/ and the archive's wals/. None if empty.
struct ResumePoint {
  pg::TimeLineId tli = 0;
  pg::Lsn lsn = 0;
};
std::optional<ResumePoint> find_resume_point(const std::string& server_dir, uint64_t segment_size);

// The end of the newest complete segment in the archive's wals/ (the LSN
// right after it), or 0 when the archive has none.
pg::Lsn archived_end(const std::string& server_dir, uint64_t segment_size);

// What the running receiver last wrote to its state file.
struct ReceiverState {
  int64_t pid = 0;
  int64_t started_at = 0;   // epoch seconds
  int64_t updated_at = 0;   // epoch seconds
  std::string flushed_lsn;  // last position fsynced and reported
  std::string server_lsn;   // server's WAL end at that time
  uint32_t timeline = 0;
  std::string last_error;
};
Result<std::optional<ReceiverState>> load_receiver_state(const std::string& server_dir);

}  // namespace cellar::wal
