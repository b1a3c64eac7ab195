// pg::Connection::pipeline_binary against a real PostgreSQL 15: results in
// order and in binary, NULLs, more queries than the depth, and a failing
// query in the middle that stops the rest and leaves the connection usable.
// Then pg::ParallelReads: the same over three connections, each taking a
// share.
#include <catch2/catch.hpp>
#include <set>

#include "pg/connection.h"
#include "pg/parallel_reads.h"
#include "support/pg_server.h"

using namespace cellar;
using namespace cellar::test;

TEST_CASE("pipelined binary queries come back in order, and a failure stops them cleanly", "[pg]") {
  auto conn = pg::Connection::open(shared_pg().conninfo(), pg::ConnectionKind::normal, "cellar_tests");
  REQUIRE(conn);
  std::vector<std::string> queries;
  for (int i = 0; i < 10; ++i) queries.push_back("SELECT decode('00ff" + std::to_string(i) + "0', 'hex')");
  queries.push_back("SELECT NULL::bytea");
  std::vector<std::optional<std::string>> got;
  std::vector<size_t> order;
  REQUIRE(conn->pipeline_binary(queries, 3, [&](size_t i, std::optional<std::string> v) {
    order.push_back(i);
    got.push_back(std::move(v));
    return Status::ok();
  }));
  REQUIRE(got.size() == 11);
  for (size_t i = 0; i < 10; ++i) {
    INFO(i);
    CHECK(order[i] == i);
    CHECK(got[i] == std::string("\x00\xff", 2) + static_cast<char>(i * 16));  // binary, not "\x00ff..."
  }
  CHECK_FALSE(got[10]);

  std::vector<size_t> seen;
  Status st = conn->pipeline_binary({"SELECT 'a'::bytea", "SELECT 1/0", "SELECT 'c'::bytea", "SELECT 'd'::bytea"}, 4,
                                    [&](size_t i, std::optional<std::string>) {
                                      seen.push_back(i);
                                      return Status::ok();
                                    });
  REQUIRE_FALSE(st);
  CHECK(st.message().find("division by zero") != std::string::npos);
  CHECK(seen == std::vector<size_t>{0});
  // A failure of `take` stops it as well.
  Status stopped = conn->pipeline_binary(queries, 2, [&](size_t i, std::optional<std::string>) {
    return i == 1 ? Status::failed("enough") : Status::ok();
  });
  CHECK(stopped.message() == "enough");
  auto after = conn->query_value("SELECT 41 + 1");
  REQUIRE(after);
  CHECK(*after == "42");
}

TEST_CASE("reads spread over several connections come back in order, and a failure stops them cleanly", "[pg]") {
  std::vector<pg::Connection> conns;
  for (int i = 0; i < 3; ++i) {
    auto c = pg::Connection::open(shared_pg().conninfo(), pg::ConnectionKind::normal, "cellar_tests");
    REQUIRE(c);
    conns.push_back(std::move(*c));
  }
  pg::ParallelReads reads({&conns[0], &conns[1], &conns[2]});
  // Each query says which backend ran it: every connection takes a share.
  std::vector<std::string> queries;
  for (int i = 0; i < 50; ++i)
    queries.push_back("SELECT (" + std::to_string(i) + " || ':' || pg_backend_pid())::bytea");
  std::vector<std::string> got;
  REQUIRE(reads.run(queries, 2, [&](size_t i, std::optional<std::string> v) {
    REQUIRE(v);
    CHECK(i == got.size());
    got.push_back(*v);
    return Status::ok();
  }));
  REQUIRE(got.size() == 50);
  std::set<std::string> backends;
  for (size_t i = 0; i < got.size(); ++i) {
    INFO(got[i]);
    CHECK(got[i].substr(0, got[i].find(':')) == std::to_string(i));
    backends.insert(got[i].substr(got[i].find(':') + 1));
  }
  CHECK(backends.size() == 3);

  // A failing query stops it: nothing after it is taken.
  queries[31] = "SELECT 1/0";
  size_t taken = 0;
  Status st = reads.run(queries, 2, [&](size_t, std::optional<std::string>) {
    ++taken;
    return Status::ok();
  });
  REQUIRE_FALSE(st);
  CHECK(st.message().find("division by zero") != std::string::npos);
  CHECK(taken <= 31);
  // So does a failure of `take`.
  Status stopped = reads.run(queries, 2, [&](size_t i, std::optional<std::string>) {
    return i == 7 ? Status::failed("enough") : Status::ok();
  });
  CHECK(stopped.message() == "enough");
  for (auto& c : conns) {
    auto after = c.query_value("SELECT 41 + 1");
    REQUIRE(after);
    CHECK(*after == "42");
  }
}
