// Self-test of the PostgreSQL harness (support/pg_server.h): the server that
// every PostgreSQL-facing test relies on starts, speaks the replication
// protocol, stops, and several can run side by side.
#include "support/pg_server.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "pg/connection.h"

using namespace cellar;
using namespace cellar::test;

namespace {
std::string identify_system(const std::string& conninfo) {
  auto repl = pg::Connection::open(conninfo, pg::ConnectionKind::replication);
  REQUIRE(repl);
  auto r = repl->query("IDENTIFY_SYSTEM");
  REQUIRE(r);
  REQUIRE(r->rows.size() == 1);
  REQUIRE(r->columns.at(0) == "systemid");
  return r->rows[0][0].value_or("");
}
}  // namespace

TEST_CASE("the harness PostgreSQL 15 accepts normal and replication connections", "[support][pg]") {
  PgServer& pg = shared_pg();
  CHECK(pg.psql("SELECT current_setting('server_version_num')::int / 10000") == "15");
  CHECK(pg.psql("SHOW wal_level") == "replica");
  CHECK(pg.psql("SHOW max_wal_senders") == "10");
  CHECK(pg.psql("SHOW fsync") == "on");
  CHECK_FALSE(identify_system(pg.conninfo()).empty());
  CHECK(pg.conninfo().find("port=" + std::to_string(pg.port())) != std::string::npos);
  struct stat sb {};
  REQUIRE(::stat(pg.data_dir().c_str(), &sb) == 0);
  if (::geteuid() == 0) CHECK(sb.st_uid != 0);  // the server runs as postgres, not root
}

TEST_CASE("two harness servers run at once on different ports, and stop and restart", "[support][pg]") {
  PgServer& a = shared_pg();
  auto b = PgServer::start({{{"wal_level", "minimal"}, {"max_wal_senders", "0"}}});
  CHECK(a.port() != b->port());
  CHECK(a.psql("SHOW wal_level") == "replica");
  CHECK(b->psql("SHOW wal_level") == "minimal");

  b->psql("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)");
  b->stop_immediate();
  CHECK_FALSE(b->running());
  CHECK_FALSE(pg::Connection::open(b->conninfo(), pg::ConnectionKind::normal));
  b->start_again();
  CHECK(b->psql("SELECT x FROM kept") == "42");
  b->restart();
  CHECK(b->psql("SELECT count(*) FROM kept") == "1");

  std::string dir = b->base_dir();
  b.reset();
  CHECK_FALSE(::access(dir.c_str(), F_OK) == 0);
  CHECK(a.psql("SELECT 1") == "1");
}

TEST_CASE("a harness role with a password must give it, and tablespaces can be created", "[support][pg]") {
  PgServer& pg = shared_pg();
  pg.create_role("harness_pw", "", "s3cr3t-harness");
  auto without = pg::Connection::open(pg.conninfo("harness_pw"), pg::ConnectionKind::normal);
  CHECK_FALSE(without);
  CHECK(without.status().message().find("s3cr3t") == std::string::npos);
  auto with = pg::Connection::open(pg.conninfo("harness_pw") + " password=s3cr3t-harness", pg::ConnectionKind::normal);
  CHECK(with);

  std::string dir = pg.create_tablespace("harness_ts");
  CHECK(pg.psql("SELECT pg_tablespace_location(oid) FROM pg_tablespace WHERE spcname = 'harness_ts'") == dir);
  pg.psql("DROP TABLESPACE harness_ts");
  pg.psql("DROP ROLE harness_pw");
}
