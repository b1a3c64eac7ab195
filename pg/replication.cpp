#include "pg/replication.h"

#include <libpq-fe.h>
#include <sys/select.h>

#include <cstring>

#include "common/redact.h"

namespace cellar::pg {
namespace {

constexpr int64_t kPgEpochOffsetSecs = 946684800;  // 2000-01-01 - 1970-01-01

uint64_t get_be64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void put_be64(char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xFF);
    v >>= 8;
  }
}

std::string quote_ident(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string sqlstate(PGresult* res) {
  const char* s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  return s ? s : "";
}

}  // namespace

int64_t pg_now_micros() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::microseconds>(now).count() - kPgEpochOffsetSecs * 1000000LL;
}

Result<SystemIdentity> identify_system(Connection& conn) {
  auto r = conn.query("IDENTIFY_SYSTEM");
  if (!r) return Status(r.status()).prefix("IDENTIFY_SYSTEM failed");
  if (r->rows.size() != 1 || r->rows[0].size() < 3)
    return Status::failed("IDENTIFY_SYSTEM returned an unexpected result");
  const auto& row = r->rows[0];
  SystemIdentity id;
  id.systemid = row[0].value_or("");
  id.timeline = static_cast<TimeLineId>(std::strtoul(row[1].value_or("0").c_str(), nullptr, 10));
  auto pos = parse_lsn(row[2].value_or(""));
  if (!pos) return Status::failed("IDENTIFY_SYSTEM returned an invalid xlogpos");
  id.xlogpos = *pos;
  return id;
}

Result<uint64_t> show_wal_segment_size(Connection& conn) {
  auto v = conn.query_value("SHOW wal_segment_size");
  if (!v) return v.status();
  // "16MB", "1GB", "64MB"
  const std::string& s = *v;
  size_t i = 0;
  while (i < s.size() && isdigit(static_cast<unsigned char>(s[i]))) ++i;
  uint64_t n = std::strtoull(s.substr(0, i).c_str(), nullptr, 10);
  std::string unit = s.substr(i);
  uint64_t mult = unit == "kB" ? 1024ULL : unit == "MB" ? 1024ULL * 1024 : unit == "GB" ? 1024ULL * 1024 * 1024 : 1;
  uint64_t size = n * mult;
  if (size < 1024 * 1024 || size > 1024ULL * 1024 * 1024 || (size & (size - 1)) != 0)
    return Status::failed("server reported an invalid wal_segment_size \"" + s + "\"");
  return size;
}

Result<TimelineHistory> timeline_history(Connection& conn, TimeLineId tli) {
  auto r = conn.query("TIMELINE_HISTORY " + std::to_string(tli));
  if (!r) return Status(r.status()).prefix("TIMELINE_HISTORY " + std::to_string(tli) + " failed");
  if (r->rows.size() != 1 || r->rows[0].size() != 2)
    return Status::failed("TIMELINE_HISTORY returned an unexpected result");
  TimelineHistory h{r->rows[0][0].value_or(""), r->rows[0][1].value_or("")};
  if (h.filename != make_history_name(tli))
    return Status::failed("server sent history file \"" + h.filename + "\" for timeline " + std::to_string(tli));
  return h;
}

Status create_physical_slot(Connection& conn, const std::string& slot, bool if_not_exists) {
  std::string sql = "CREATE_REPLICATION_SLOT " + quote_ident(slot) + " PHYSICAL (RESERVE_WAL)";
  PGresult* res = PQexec(conn.raw(), sql.c_str());
  ExecStatusType st = PQresultStatus(res);
  Status out;
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    if (sqlstate(res) == "42710") {
      out = if_not_exists ? Status::ok()
                          : Status::failed("replication slot \"" + slot + "\" already exists",
                                           "use --if-not-exists, or drop it with 'receive-wal --drop-slot'");
    } else {
      out = Status::failed("could not create replication slot \"" + slot + "\": " + result_error_message(res, conn));
    }
  }
  PQclear(res);
  return out;
}

Status drop_slot(Connection& conn, const std::string& slot) {
  std::string sql = "DROP_REPLICATION_SLOT " + quote_ident(slot);
  PGresult* res = PQexec(conn.raw(), sql.c_str());
  Status out;
  if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
    std::string state = sqlstate(res);
    if (state == "42704")
      out = Status::failed("replication slot \"" + slot + "\" does not exist");
    else if (state == "55006")
      out = Status::failed("replication slot \"" + slot + "\" is in use",
                           "stop the receiver first with 'cellar receive-wal --stop SERVER'");
    else
      out = Status::failed("could not drop replication slot \"" + slot + "\": " + result_error_message(res, conn));
  }
  PQclear(res);
  return out;
}

Result<SlotState> read_replication_slot(Connection& conn, const std::string& slot) {
  auto r = conn.query("READ_REPLICATION_SLOT " + quote_ident(slot));
  if (!r) return Status(r.status()).prefix("READ_REPLICATION_SLOT failed");
  SlotState s;
  if (r->rows.size() != 1 || r->rows[0].size() < 3 || !r->rows[0][0]) return s;
  s.exists = true;
  s.type = *r->rows[0][0];
  if (r->rows[0][1]) s.restart_lsn = parse_lsn(*r->rows[0][1]);
  if (r->rows[0][2]) s.restart_tli = static_cast<TimeLineId>(std::strtoul(r->rows[0][2]->c_str(), nullptr, 10));
  return s;
}

Result<WalStream> WalStream::start(Connection& conn, const std::string& slot, Lsn start, TimeLineId tli) {
  std::string sql = "START_REPLICATION ";
  if (!slot.empty()) sql += "SLOT " + quote_ident(slot) + " ";
  sql += "PHYSICAL " + format_lsn(start) + " TIMELINE " + std::to_string(tli);
  PGresult* res = PQexec(conn.raw(), sql.c_str());
  ExecStatusType st = PQresultStatus(res);
  if (st == PGRES_COPY_BOTH) {
    PQclear(res);
    return WalStream(conn);
  }
  std::string msg = result_error_message(res, conn);
  PQclear(res);
  return Status::failed("could not start WAL streaming at " + format_lsn(start) + " on timeline " +
                        std::to_string(tli) + ": " + msg);
}

Result<StreamEvent> WalStream::next(std::chrono::milliseconds timeout) {
  PGconn* c = conn_->raw();
  for (int attempt = 0; attempt < 2; ++attempt) {
    char* buf = nullptr;
    int len = PQgetCopyData(c, &buf, 1);
    if (len > 0) {
      std::string msg(buf, static_cast<size_t>(len));
      PQfreemem(buf);
      if (msg[0] == 'w' && msg.size() >= 25) {
        XLogData d;
        d.start = get_be64(msg.data() + 1);
        d.wal_end = get_be64(msg.data() + 9);
        d.message = std::move(msg);
        return StreamEvent(std::move(d));
      }
      if (msg[0] == 'k' && msg.size() >= 18) {
        return StreamEvent(Keepalive{get_be64(msg.data() + 1), msg[17] != 0});
      }
      return Status::failed(std::string("unexpected replication message of type '") + msg[0] + "'");
    }
    if (len == -1) {
      copy_done_ = true;
      auto end = read_end_results();
      if (!end) return end.status();
      return StreamEvent(*end);
    }
    if (len == -2) return Status::failed("WAL stream failed: " + conn_->last_error());
    if (attempt == 1) break;
    // Nothing buffered: wait for the socket, then read what arrived.
    int sock = PQsocket(c);
    fd_set rfds;
    FD_ZERO(&rfds);
    FD_SET(sock, &rfds);
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    int n = select(sock + 1, &rfds, nullptr, nullptr, &tv);
    if (n < 0) {
      if (errno == EINTR) return StreamEvent(NoMessage{});
      return Status::from_errno("select on the replication connection failed", errno);
    }
    if (n == 0) return StreamEvent(NoMessage{});
    if (PQconsumeInput(c) == 0) return Status::failed("WAL stream failed: " + conn_->last_error());
  }
  return StreamEvent(NoMessage{});
}

Status WalStream::send_status(Lsn write, Lsn flush, bool reply_requested) {
  char msg[34];
  msg[0] = 'r';
  put_be64(msg + 1, write);
  put_be64(msg + 9, flush);
  put_be64(msg + 17, 0);
  put_be64(msg + 25, static_cast<uint64_t>(pg_now_micros()));
  msg[33] = reply_requested ? 1 : 0;
  if (PQputCopyData(conn_->raw(), msg, sizeof msg) <= 0 || PQflush(conn_->raw()) != 0)
    return Status::failed("could not send a status update: " + conn_->last_error());
  return Status::ok();
}

// After the server's CopyDone: the results that follow (see pg-protocol §A.8).
Result<StreamEnd> WalStream::read_end_results() {
  PGconn* c = conn_->raw();
  StreamEnd end;
  Status failure;
  while (PGresult* res = PQgetResult(c)) {
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COPY_IN) {
      PQputCopyEnd(c, nullptr);
      PQflush(c);
    } else if (st == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) >= 2) {
      end.next_tli = static_cast<TimeLineId>(std::strtoul(PQgetvalue(res, 0, 0), nullptr, 10));
      end.next_start = parse_lsn(PQgetvalue(res, 0, 1)).value_or(0);
    } else if (st == PGRES_FATAL_ERROR) {
      failure = Status::failed("WAL stream ended with an error: " + result_error_message(res, *conn_));
    } else if (st == PGRES_COPY_BOTH || st == PGRES_COPY_OUT) {
      // Still streaming: drain and discard (we already ended our side).
      char* buf = nullptr;
      while (PQgetCopyData(c, &buf, 0) > 0) PQfreemem(buf);
    }
    PQclear(res);
  }
  if (!failure) return failure;
  return end;
}

Result<StreamEnd> WalStream::finish() {
  if (copy_done_) return StreamEnd{};
  PGconn* c = conn_->raw();
  if (PQputCopyEnd(c, nullptr) <= 0 || PQflush(c) != 0)
    return Status::failed("could not end the WAL stream: " + conn_->last_error());
  // Drain the rest of the server's data until its CopyDone.
  for (;;) {
    char* buf = nullptr;
    int len = PQgetCopyData(c, &buf, 0);
    if (len > 0) {
      PQfreemem(buf);
      continue;
    }
    if (len == -2) return Status::failed("WAL stream failed while ending: " + conn_->last_error());
    break;
  }
  copy_done_ = true;
  return read_end_results();
}

}  // namespace cellar::pg
