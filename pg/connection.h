// The libpq adapter: the only module that includes libpq-fe.h. A Connection
// owns one PGconn (normal or replication), runs simple queries and returns
// rows as strings. Error messages from libpq are returned as Status values
// with secrets removed; nothing here throws.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

struct pg_conn;
struct pg_result;

namespace cellar::pg {

// One result row; NULL fields are std::nullopt.
using Row = std::vector<std::optional<std::string>>;

struct QueryResult {
  std::vector<std::string> columns;
  std::vector<Row> rows;
};

enum class ConnectionKind { normal, replication };

class Connection {
 public:
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  // Opens a connection. `application_name` is added unless conninfo sets one;
  // replication connections add `replication=true` (physical replication).
  // Fails with libpq's message (secrets removed) and a hint.
  static Result<Connection> open(const std::string& conninfo, ConnectionKind kind,
                                 const std::string& application_name = "cellar");

  // Runs one simple-protocol statement; fails on any error status.
  Result<QueryResult> query(const std::string& sql);
  // The same through the extended protocol with every column in binary
  // (a bytea is its raw bytes, not hex), for pg_read_binary_file.
  Result<QueryResult> query_binary(const std::string& sql);
  // Runs `queries` in order through libpq's pipeline mode, at most `depth`
  // in flight (the server works on the next while this side takes the last),
  // every column in binary. `take` gets each query's index and its first
  // value (nullopt for NULL or no row), in order. The first failure of a
  // query or of `take` stops it; the rest is drained and the connection is
  // usable again.
  Status pipeline_binary(const std::vector<std::string>& queries, size_t depth,
                         const std::function<Status(size_t, std::optional<std::string>)>& take);
  // First column of the first row, or an error if there is no row.
  Result<std::string> query_value(const std::string& sql);

  int server_version() const;  // e.g. 150004
  ConnectionKind kind() const { return kind_; }
  pg_conn* raw() { return conn_; }
  // libpq's last error text for this connection, secrets removed, one line.
  std::string last_error() const;

 private:
  Connection(pg_conn* conn, ConnectionKind kind) : conn_(conn), kind_(kind) {}
  pg_conn* conn_ = nullptr;
  ConnectionKind kind_ = ConnectionKind::normal;
};

// A libpq or server message as one line: newlines and tabs folded, runs of
// spaces collapsed, trailing blanks cut, secrets removed.
std::string one_line_message(const std::string& text);

// The error text of a failed result (or of the connection when `res` is
// null), as one_line_message.
std::string result_error_message(pg_result* res, const Connection& conn);

// Validates conninfo syntax (key/value or URI) without connecting.
Status check_conninfo(const std::string& conninfo);

// Quotes a value for a libpq key/value conninfo string.
std::string conninfo_quote(const std::string& value);

// SQL string literal ('...' with quotes doubled).
std::string sql_literal(const std::string& value);

}  // namespace cellar::pg
