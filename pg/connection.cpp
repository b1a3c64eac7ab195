#include "pg/connection.h"

#include <libpq-fe.h>

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

Result<std::string> Connection::query_value(const std::string& sql) {
  auto r = query(sql);
  if (!r) return r.status();
  if (r->rows.empty() || r->rows[0].empty()) return Status::failed("query returned no row: " + sql);
  return r->rows[0][0].value_or("");
}

}  // namespace cellar::pg
