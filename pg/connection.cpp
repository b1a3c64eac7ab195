#include "pg/connection.h"

#include <libpq-fe.h>

#include <algorithm>

#include "common/redact.h"

namespace cellar::pg {
std::string one_line_message(const std::string& text) {
  std::string s = text;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  std::string out;
  for (char c : s) {
    if (c == '\n' || c == '\t') c = ' ';
    if (c == ' ' && !out.empty() && out.back() == ' ') continue;
    out += c;
  }
  return redact_secrets(out);
}

std::string result_error_message(PGresult* res, const Connection& conn) {
  return res ? one_line_message(PQresultErrorMessage(res)) : conn.last_error();
}

namespace {

bool conninfo_has(const std::string& conninfo, const char* key) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (err) PQfreemem(err);
  if (!opts) return false;
  bool found = false;
  for (PQconninfoOption* o = opts; o->keyword; ++o)
    if (std::string(o->keyword) == key && o->val && *o->val) found = true;
  PQconninfoFree(opts);
  return found;
}

}  // namespace

Status check_conninfo(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (!opts) {
    std::string msg = err ? one_line_message(err) : "out of memory";
    if (err) PQfreemem(err);
    return Status::usage("invalid conninfo: " + msg);
  }
  PQconninfoFree(opts);
  return Status::ok();
}

std::string conninfo_quote(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string sql_literal(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

Connection::Connection(Connection&& o) noexcept : conn_(o.conn_), kind_(o.kind_) { o.conn_ = nullptr; }
Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    if (conn_) PQfinish(conn_);
    conn_ = o.conn_;
    kind_ = o.kind_;
    o.conn_ = nullptr;
  }
  return *this;
}
Connection::~Connection() {
  if (conn_) PQfinish(conn_);
}

Result<Connection> Connection::open(const std::string& conninfo, ConnectionKind kind,
                                    const std::string& application_name) {
  Status syntax = check_conninfo(conninfo);
  if (!syntax) return syntax;
  // Expand via expand_dbname so both URI and key/value forms work, then add ours.
  std::vector<const char*> keys{"dbname"};
  std::vector<const char*> vals{conninfo.c_str()};
  if (!conninfo_has(conninfo, "application_name")) {
    keys.push_back("application_name");
    vals.push_back(application_name.c_str());
  }
  if (kind == ConnectionKind::replication) {
    keys.push_back("replication");
    vals.push_back("true");
  }
  // A replication stream can be idle for long: TCP keepalives notice a dead
  // peer (ignored on unix sockets).
  if (kind == ConnectionKind::replication && !conninfo_has(conninfo, "keepalives_idle")) {
    keys.insert(keys.end(), {"keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count"});
    vals.insert(vals.end(), {"1", "30", "10", "3"});
  }
  if (!conninfo_has(conninfo, "connect_timeout")) {
    keys.push_back("connect_timeout");
    vals.push_back("10");
  }
  keys.push_back(nullptr);
  vals.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keys.data(), vals.data(), 1);
  if (!conn) return Status::failed("could not connect to PostgreSQL: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = one_line_message(PQerrorMessage(conn));
    PQfinish(conn);
    return Status::failed("could not connect to PostgreSQL: " + msg,
                          "check that PostgreSQL is running and that conninfo is right");
  }
  return Connection(conn, kind);
}

std::string Connection::last_error() const { return conn_ ? one_line_message(PQerrorMessage(conn_)) : ""; }

int Connection::server_version() const { return conn_ ? PQserverVersion(conn_) : 0; }

namespace {

// The rows of `res` (cleared here), or its error.
Result<QueryResult> take_result(PGresult* res, const Connection& conn) {
  ExecStatusType st = PQresultStatus(res);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    std::string msg = res ? one_line_message(PQresultErrorMessage(res)) : conn.last_error();
    PQclear(res);
    return Status::failed("query failed: " + msg);
  }
  QueryResult out;
  int ncols = PQnfields(res);
  for (int c = 0; c < ncols; ++c) out.columns.emplace_back(PQfname(res, c));
  int nrows = PQntuples(res);
  out.rows.reserve(static_cast<size_t>(nrows));
  for (int r = 0; r < nrows; ++r) {
    Row row;
    for (int c = 0; c < ncols; ++c) {
      if (PQgetisnull(res, r, c))
        row.emplace_back(std::nullopt);
      else
        row.emplace_back(std::string(PQgetvalue(res, r, c), static_cast<size_t>(PQgetlength(res, r, c))));
    }
    out.rows.push_back(std::move(row));
  }
  PQclear(res);
  return out;
}

}  // namespace

Result<QueryResult> Connection::query(const std::string& sql) { return take_result(PQexec(conn_, sql.c_str()), *this); }

Result<QueryResult> Connection::query_binary(const std::string& sql) {
  return take_result(PQexecParams(conn_, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 1), *this);
}

Status Connection::pipeline_binary(const std::vector<std::string>& queries, size_t depth,
                                   const std::function<Status(size_t, std::optional<std::string>)>& take) {
  if (queries.empty()) return Status::ok();
  if (PQenterPipelineMode(conn_) != 1) return Status::failed("could not enter pipeline mode: " + last_error());
  Status error;
  size_t sent = 0, done = 0;
  auto fail = [&](const std::string& why) {
    if (error.is_ok()) error = Status::failed(why);
  };
  while (done < sent || (error.is_ok() && sent < queries.size())) {
    while (error.is_ok() && sent < queries.size() && sent - done < std::max<size_t>(depth, 1)) {
      if (PQsendQueryParams(conn_, queries[sent].c_str(), 0, nullptr, nullptr, nullptr, nullptr, 1) != 1 ||
          PQsendFlushRequest(conn_) != 1) {
        fail("query failed: " + last_error());
        break;
      }
      ++sent;
    }
    if (PQflush(conn_) != 0) fail("could not send queries: " + last_error());
    if (done == sent) break;
    // One query's results end with a null result.
    std::optional<std::string> value;
    bool failed = false;
    for (PGresult* res; (res = PQgetResult(conn_)) != nullptr; PQclear(res)) {
      ExecStatusType st = PQresultStatus(res);
      if (st == PGRES_TUPLES_OK) {
        if (PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0))
          value.emplace(PQgetvalue(res, 0, 0), static_cast<size_t>(PQgetlength(res, 0, 0)));
      } else if (st != PGRES_COMMAND_OK) {
        failed = true;
        if (st != PGRES_PIPELINE_ABORTED) fail("query failed: " + one_line_message(PQresultErrorMessage(res)));
      }
    }
    if (failed && error.is_ok()) fail("query failed: " + last_error());
    if (!failed && error.is_ok())
      if (Status st = take(done, std::move(value)); !st) error = st;
    ++done;
  }
  // Back to normal: a sync ends the (possibly aborted) pipeline.
  if (PQpipelineSync(conn_) == 1) {
    for (PGresult* res; (res = PQgetResult(conn_)) != nullptr;) {
      bool sync = PQresultStatus(res) == PGRES_PIPELINE_SYNC;
      PQclear(res);
      if (sync) break;
    }
  }
  if (PQexitPipelineMode(conn_) != 1 && error.is_ok()) fail("could not leave pipeline mode: " + last_error());
  return error;
}

Result<std::string> Connection::query_value(const std::string& sql) {
  auto r = query(sql);
  if (!r) return r.status();
  if (r->rows.empty() || r->rows[0].empty()) return Status::failed("query returned no row: " + sql);
  return r->rows[0][0].value_or("");
}

}  // namespace cellar::pg
