// The physical replication protocol over a replication=true libpq connection
// (PostgreSQL 15): IDENTIFY_SYSTEM, SHOW wal_segment_size, TIMELINE_HISTORY,
// CREATE / DROP / READ_REPLICATION_SLOT, and START_REPLICATION with XLogData,
// keepalives and standby status updates. Byte layouts and end-of-stream rules
// follow shared/reference/pg-protocol.md §A.1-A.5, A.8. What to do with the
// WAL (files, fsync, renames) belongs to wal/receiver, not here.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/status.h"
#include "pg/connection.h"
#include "pg/wal_names.h"

namespace cellar::pg {

struct SystemIdentity {
  std::string systemid;  // decimal uint64
  TimeLineId timeline = 0;
  Lsn xlogpos = 0;
};

struct TimelineHistory {
  std::string filename;  // e.g. "00000002.history"
  std::string content;   // raw bytes
};

struct SlotState {
  bool exists = false;
  std::string type;  // "physical"
  std::optional<Lsn> restart_lsn;
  std::optional<TimeLineId> restart_tli;
};

// Each of these requires a replication connection and fails with the
// server's message.
Result<SystemIdentity> identify_system(Connection& conn);
Result<uint64_t> show_wal_segment_size(Connection& conn);
Result<TimelineHistory> timeline_history(Connection& conn, TimeLineId tli);
// Creates a persistent physical slot with RESERVE_WAL. With if_not_exists an
// existing slot is success; otherwise the error says it exists.
Status create_physical_slot(Connection& conn, const std::string& slot, bool if_not_exists);
Status drop_slot(Connection& conn, const std::string& slot);
Result<SlotState> read_replication_slot(Connection& conn, const std::string& slot);

// --- Streaming -------------------------------------------------------------

struct XLogData {
  Lsn start = 0;        // LSN of the first WAL byte
  Lsn wal_end = 0;      // server's flush position when sent
  std::string message;  // the whole CopyData payload (kept whole: no copy)
  std::string_view wal() const { return std::string_view(message).substr(25); }
};
struct Keepalive {
  Lsn wal_end = 0;
  bool reply_requested = false;
};
// The server ended the stream. For a finished historic timeline next_tli is
// set with the position where the next timeline starts; a controlled server
// shutdown leaves it empty.
struct StreamEnd {
  std::optional<TimeLineId> next_tli;
  Lsn next_start = 0;
};
struct NoMessage {};  // the wait timed out

using StreamEvent = std::variant<XLogData, Keepalive, StreamEnd, NoMessage>;

class WalStream {
 public:
  // START_REPLICATION SLOT "slot" PHYSICAL start TIMELINE tli (slot may be
  // empty). `start` must be a segment boundary.
  static Result<WalStream> start(Connection& conn, const std::string& slot, Lsn start, TimeLineId tli);

  // Waits up to `timeout` for the next message.
  Result<StreamEvent> next(std::chrono::milliseconds timeout);
  // Standby status update: write and flush positions (flush = fsynced only).
  Status send_status(Lsn write, Lsn flush, bool reply_requested);
  // Ends our side (CopyDone) and drains the server's end of the stream;
  // returns the StreamEnd it saw, if any.
  Result<StreamEnd> finish();

 private:
  explicit WalStream(Connection& conn) : conn_(&conn) {}
  Result<StreamEnd> read_end_results();
  Connection* conn_;
  bool copy_done_ = false;
};

// Microseconds since 2000-01-01 UTC, the protocol's clock.
int64_t pg_now_micros();

}  // namespace cellar::pg
