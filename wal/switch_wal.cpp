#include "wal/switch_wal.h"

#include <thread>

#include "common/fs.h"
#include "pg/connection.h"
#include "pg/wal_names.h"
#include "wal/wal_store.h"

namespace cellar::wal {

Result<SwitchResult> switch_wal(const std::string& conninfo, bool force) {
  auto conn = pg::Connection::open(conninfo, pg::ConnectionKind::normal, "cellar_switch_wal");
  if (!conn) return conn.status();
  if (force) {
    auto cp = conn->query("CHECKPOINT");
    if (!cp) return Status(cp.status()).prefix("checkpoint before the switch failed");
  }
  // pg_switch_wal() returns the end of the switch record it wrote, inside
  // the closed segment; with nothing written since the last switch it writes
  // nothing and returns a position not after the insert position before it.
  auto before = conn->query_value("SELECT pg_current_wal_insert_lsn()");
  if (!before) return before.status();
  auto r = conn->query("SELECT s.lsn, pg_walfile_name(s.lsn) FROM (SELECT pg_switch_wal() AS lsn) s");
  if (!r) {
    if (r.status().message().find("recovery is in progress") != std::string::npos)
      return Status::failed("cannot switch WAL: the server is a standby", "run switch-wal against the primary");
    return Status(r.status()).prefix("pg_switch_wal() failed");
  }
  SwitchResult out;
  const auto& row = r->rows.at(0);
  auto end_lsn = pg::parse_lsn(row.at(0).value_or(""));
  auto before_lsn = pg::parse_lsn(*before);
  out.switched = end_lsn && before_lsn && *end_lsn > *before_lsn;
  if (out.switched) out.closed_segment = row.at(1).value_or("");
  return out;
}

Status wait_archived(const std::string& server_dir, const std::string& server, const std::string& segment,
                     std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!is_archived(server_dir, segment)) {
    if (std::chrono::steady_clock::now() >= deadline)
      return Status::failed("WAL file " + segment + " of server '" + server + "' was not archived within " +
                                std::to_string(timeout.count()) + " s",
                            "check that receive-wal is running ('cellar receive-wal --status " + server +
                                "') and that cron runs archive-wal");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Status::ok();
}

}  // namespace cellar::wal
