#include "pg/base_backup.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <cstdlib>
#include <memory>

#include "common/redact.h"

namespace cellar::pg {
namespace {

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

Result<ResultPtr> next_result(Connection& conn, ExecStatusType want, const char* what) {
  ResultPtr res(PQgetResult(conn.raw()));
  if (!res) return Status::failed(std::string("BASE_BACKUP ended early, expected ") + what);
  if (PQresultStatus(res.get()) != want)
    return Status::failed("BASE_BACKUP failed: " + result_error_message(res.get(), conn));
  return res;
}

std::string value(PGresult* res, int row, int col) {
  return PQgetisnull(res, row, col) ? "" : std::string(PQgetvalue(res, row, col));
}

Result<BaseBackupStart> read_start(Connection& conn) {
  auto pos = next_result(conn, PGRES_TUPLES_OK, "the start position");
  if (!pos) return pos.status();
  if (PQntuples(pos->get()) != 1 || PQnfields(pos->get()) < 2)
    return Status::failed("BASE_BACKUP returned an unexpected start position");
  BaseBackupStart start;
  auto lsn = parse_lsn(value(pos->get(), 0, 0));
  if (!lsn) return Status::failed("BASE_BACKUP returned an invalid start LSN");
  start.start_lsn = *lsn;
  start.timeline = static_cast<TimeLineId>(std::strtoul(value(pos->get(), 0, 1).c_str(), nullptr, 10));
  auto spc = next_result(conn, PGRES_TUPLES_OK, "the tablespace list");
  if (!spc) return spc.status();
  PGresult* r = spc->get();
  for (int i = 0; i < PQntuples(r); ++i) {
    TablespaceRow row;
    if (!PQgetisnull(r, i, 0)) row.oid = static_cast<uint32_t>(std::strtoul(value(r, i, 0).c_str(), nullptr, 10));
    row.location = value(r, i, 1);
    if (PQnfields(r) > 2 && !PQgetisnull(r, i, 2)) row.size_kb = std::strtoull(value(r, i, 2).c_str(), nullptr, 10);
    start.tablespaces.push_back(std::move(row));
  }
  return start;
}

uint64_t get_be64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// One CopyData payload → one sink event.
Status dispatch(std::string_view msg, BaseBackupSink& sink, bool& in_manifest) {
  if (msg.empty()) return Status::failed("empty COPY message in BASE_BACKUP");
  switch (msg[0]) {
    case 'n': {
      size_t end1 = msg.find('\0', 1);
      size_t end2 = end1 == std::string_view::npos ? end1 : msg.find('\0', end1 + 1);
      if (end2 == std::string_view::npos || in_manifest) return Status::failed("malformed COPY message of type n");
      std::string name(msg.substr(1, end1 - 1));
      if (name.empty() || name[0] == '.' || name.find_first_of("/\\") != std::string::npos)
        return Status::failed("server sent an invalid archive name \"" + name + "\"");
      return sink.on_archive(name, std::string(msg.substr(end1 + 1, end2 - end1 - 1)));
    }
    case 'd':
      return sink.on_data(msg.substr(1));
    case 'p':
      if (msg.size() != 9) return Status::failed("malformed COPY message of type p");
      return sink.on_progress(get_be64(msg.data() + 1));
    case 'm':
      if (msg.size() != 1 || in_manifest) return Status::failed("malformed COPY message of type m");
      in_manifest = true;
      return sink.on_manifest();
    default:
      return Status::failed(std::string("malformed COPY message of type ") + msg[0]);
  }
}

// Waits until the connection's socket is readable and consumes what came;
// failed after `stall` without a byte.
Status await_data(Connection& conn, std::chrono::milliseconds stall) {
  pollfd p{PQsocket(conn.raw()), POLLIN, 0};
  for (;;) {
    int n = ::poll(&p, 1, static_cast<int>(stall.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::from_errno("could not wait for BASE_BACKUP data", errno);
    if (n == 0)
      return Status::failed(
          "BASE_BACKUP stalled: no data from the server for " + std::to_string(stall.count() / 1000) + " s",
          "see the server's log; backup_stall_timeout sets how long a backup waits");
    if (PQconsumeInput(conn.raw()) == 0) return Status::failed("could not read BASE_BACKUP data: " + conn.last_error());
    return Status::ok();
  }
}

Status read_copy(Connection& conn, BaseBackupSink& sink, std::chrono::milliseconds stall) {
  while (PQisBusy(conn.raw()))  // the stream's start is bounded too
    if (Status st = await_data(conn, stall); !st) return st;
  auto copy = next_result(conn, PGRES_COPY_OUT, "the archive stream");
  if (!copy) return copy.status();
  bool in_manifest = false;
  for (;;) {
    char* buf = nullptr;
    int len = PQgetCopyData(conn.raw(), &buf, 1);  // async: a stalled server cannot hang us
    if (len == 0) {
      if (Status st = await_data(conn, stall); !st) return st;
      continue;
    }
    if (len == -1) return Status::ok();
    if (len < 0) return Status::failed("could not read BASE_BACKUP data: " + conn.last_error());
    Status st = dispatch(std::string_view(buf, static_cast<size_t>(len)), sink, in_manifest);
    PQfreemem(buf);
    if (!st) return st;
  }
}

Result<BaseBackupEnd> read_end(Connection& conn) {
  auto pos = next_result(conn, PGRES_TUPLES_OK, "the end position");
  if (!pos) return pos.status();
  BaseBackupEnd end;
  auto lsn = PQntuples(pos->get()) == 1 ? parse_lsn(value(pos->get(), 0, 0)) : std::nullopt;
  if (!lsn) return Status::failed("BASE_BACKUP returned an invalid end position");
  end.end_lsn = *lsn;
  end.timeline = static_cast<TimeLineId>(std::strtoul(value(pos->get(), 0, 1).c_str(), nullptr, 10));
  auto done = next_result(conn, PGRES_COMMAND_OK, "command completion");
  if (!done) return done.status();
  while (ResultPtr extra{PQgetResult(conn.raw())}) {
  }
  return end;
}

}  // namespace

std::string base_backup_command(const BaseBackupOptions& options) {
  std::string label;
  for (char c : options.label) {
    if (c == '\'') label += '\'';
    label += c;
  }
  std::string cmd = "BASE_BACKUP ( LABEL '" + label + "', ";
  if (options.progress) cmd += "PROGRESS, ";
  cmd += std::string("CHECKPOINT '") + (options.fast_checkpoint ? "fast" : "spread") + "', ";
  return cmd + "WAIT 0, MANIFEST 'yes', MANIFEST_CHECKSUMS 'CRC32C', TARGET 'client' )";
}

Result<BaseBackupEnd> run_base_backup(Connection& conn, const BaseBackupOptions& options, BaseBackupSink& sink) {
  // Several results come back, so PQsendQuery + PQgetResult, not PQexec.
  if (!PQsendQuery(conn.raw(), base_backup_command(options).c_str()))
    return Status::failed("could not send BASE_BACKUP: " + conn.last_error());
  auto start = read_start(conn);
  if (!start) return start.status();
  if (Status st = sink.on_start(*start); !st) return st;
  if (Status st = read_copy(conn, sink, options.stall_timeout); !st) return st;
  return read_end(conn);
}

}  // namespace cellar::pg
