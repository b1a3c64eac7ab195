#include "wal/switch_wal.h"

#include <thread>

#include "common/fs.h"
#include "locks/lock_file.h"
#include "locks/lock_names.h"
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

namespace {

// One archive-wal run; a busy lock is no failure, its holder archives.
Status archive_once(const ArchiveOptions& options, const std::string& segment) {
  auto report = archive_wal(options);
  if (report || report.status().code() == ErrorCode::busy) return Status::ok();
  return Status(report.status()).prefix("archive-wal failed while waiting for WAL file " + segment);
}

// "PID 4711", "PID 4711 on host db2", or a client hold's words.
std::string holder_words(const locks::Owner& o) {
  if (o.is_hold() || !o.pid) return locks::describe_owner(o);
  std::string words = "PID " + std::to_string(*o.pid);
  if (!o.host.empty() && o.host != locks::this_host()) words += " on host " + o.host;
  return words;
}

Status not_archived(const ArchiveOptions& o, const std::string& segment, std::chrono::seconds timeout) {
  auto owner = o.locks->owner({locks::LockKind::receive_wal, o.server, ""});
  std::optional<locks::Owner> receiver = owner ? *owner : std::nullopt;
  std::string hint =
      receiver ? "receive-wal runs (" + holder_words(*receiver) +
                     ") but the segment did not reach streaming/; see 'cellar receive-wal --status " + o.server + "'"
               : "no receive-wal is running for server '" + o.server + "': start it ('cellar receive-wal " + o.server +
                     "', or let cron start it), or check that archive_command copies WAL into incoming/";
  return Status::failed("WAL file " + segment + " of server '" + o.server + "' was not archived within " +
                            std::to_string(timeout.count()) + " s",
                        hint);
}

}  // namespace

Status wait_archived(const ArchiveOptions& options, const std::string& segment, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (Status st = archive_once(options, segment); !st) return st;
    if (is_archived(options.server_dir, segment)) return Status::ok();
    if (std::chrono::steady_clock::now() >= deadline) return not_archived(options, segment, timeout);
    // Each run reads xlog.db: look again five times a second, not more.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace cellar::wal
