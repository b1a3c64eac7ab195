// The values the etcd lock backend stores (locks/etcd_records.h), table
// driven: each shape round trips, and near misses parse as unknown.
#include "locks/etcd_records.h"

#include <catch2/catch.hpp>

namespace cellar::locks {

TEST_CASE("an etcd process record round trips host, pid, command and start", "[locks][etcd]") {
  Owner o;
  o.host = "h1";
  o.pid = 4711;
  o.command = "cellar backup \"main\"";
  o.since = 1764554400;
  const std::string value = make_process_record(o);
  CHECK(value == R"({"host":"h1","pid":4711,"command":"cellar backup \"main\"","since":1764554400})");
  const EtcdRecord r = parse_record(value);
  CHECK(r.kind == RecordKind::process);
  CHECK(r.owner.host == "h1");
  CHECK(r.owner.pid == 4711);
  CHECK(r.owner.command == o.command);
  CHECK(r.owner.since == o.since);
  CHECK_FALSE(r.owner.is_hold());
  CHECK(describe_holder(r) == "PID 4711 on host h1: cellar backup \"main\"");
  CHECK(short_holder(r) == "PID 4711 on host h1");
  CHECK_FALSE(expired_at(r, o.since + 1000000));
}

TEST_CASE("an etcd hold record round trips, with and without an end", "[locks][etcd]") {
  Owner o;
  o.host = "h2";
  o.client = "dba";
  o.reason = "upgrade";
  o.since = 1764554400;
  CHECK(make_hold_record(o) == R"({"host":"h2","client":"dba","reason":"upgrade","since":1764554400,"expires":null})");
  EtcdRecord r = parse_record(make_hold_record(o));
  CHECK(r.kind == RecordKind::hold);
  CHECK(r.owner.client == "dba");
  CHECK(r.owner.reason == "upgrade");
  CHECK_FALSE(r.owner.expires);
  CHECK_FALSE(expired_at(r, o.since + 1000000));
  CHECK(describe_holder(r) == "client 'dba' since 2025-12-01T02:00:00Z: upgrade");
  CHECK(short_holder(r) == "'dba'");

  o.expires = o.since + 60;
  r = parse_record(make_hold_record(o));
  REQUIRE(r.owner.expires);
  CHECK(*r.owner.expires == o.since + 60);
  CHECK_FALSE(expired_at(r, o.since + 59));
  CHECK(expired_at(r, o.since + 60));
}

TEST_CASE("values that are neither shape parse as unknown and keep their text", "[locks][etcd]") {
  for (const char* value : {"", "not json {", "null", "[]", "{}", "42", R"({"pid":0,"host":"h"})", R"({"pid":"4711"})",
                            R"({"pid":-3})", R"({"client":""})", R"({"client":7})", R"({"pid":1.5})"}) {
    INFO(value);
    const EtcdRecord r = parse_record(value);
    CHECK(r.kind == RecordKind::unknown);
    CHECK(r.raw == value);
    CHECK_FALSE(expired_at(r, 1LL << 40));
  }
  CHECK(describe_holder(parse_record("garbage\nsecond line")) == "an unreadable value \"garbage\"");
  CHECK(describe_holder(parse_record(std::string(100, 'x'))) ==
        "an unreadable value \"" + std::string(80, 'x') + "...\"");
}

TEST_CASE("etcd busy phrases are the file backend's words", "[locks][etcd]") {
  CHECK(busy_phrase({LockKind::global_cron, "", ""}) == "another cron is running");
  CHECK(busy_phrase({LockKind::backup, "main", ""}) == "another backup is running for server 'main'");
  CHECK(busy_phrase({LockKind::backup_id, "main", "20261201T020000"}) ==
        "backup 20261201T020000 of server 'main' is in use");
  CHECK(utc_text(0) == "1970-01-01T00:00:00Z");
}

}  // namespace cellar::locks
