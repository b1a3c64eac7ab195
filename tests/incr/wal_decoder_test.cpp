// The WAL decoder and build_change_map against a real PostgreSQL 15: the
// blocks it finds equal what pg_waldump prints for the same range, the file
// events (create, truncate, drop, databases) land in the map, records across
// page and segment boundaries decode, and corrupt or missing WAL is an error
// naming where. One server for the file (wal_keep_size keeps the segments
// the checkpoints of CREATE DATABASE would otherwise recycle).
#include "incr/wal_decoder.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <memory>
#include <regex>
#include <sstream>

#include "common/codec.h"
#include "common/crc32c.h"
#include "common/fs.h"
#include "incr/change_map.h"
#include "pg/wal_names.h"
#include "support/pg_server.h"
#include "support/run.h"
#include "wal/wal_store.h"

using namespace cellar;
using namespace cellar::incr;
using namespace cellar::test;
using Catch::Matchers::Contains;

namespace {

constexpr uint64_t kSeg = pg::kDefaultSegmentSize;

PgServer& server() {
  static std::unique_ptr<PgServer> pg = PgServer::start({{{"wal_keep_size", "2048"}, {"autovacuum", "off"}}});
  return *pg;
}

uint64_t insert_lsn() {
  auto lsn = pg::parse_lsn(server().psql("SELECT pg_current_wal_insert_lsn()"));
  REQUIRE(lsn);
  return *lsn;
}

// Completes the segment holding the current insert position.
void switch_wal() { (void)server().psql("SELECT pg_switch_wal()"); }

uint32_t number(const std::string& sql, const std::string& db = "postgres") {
  return static_cast<uint32_t>(std::stoul(server().psql(sql, db)));
}

uint32_t postgres_oid() { return number("SELECT oid FROM pg_database WHERE datname = 'postgres'"); }
uint32_t filenode(const std::string& table) { return number("SELECT pg_relation_filenode('" + table + "')"); }

std::string segment_bytes(uint64_t segno) {
  std::string bytes = read_text(server().data_dir() + "/pg_wal/" + pg::make_segment_name(1, segno, kSeg));
  REQUIRE(bytes.size() == kSeg);
  return bytes;
}

struct Decoded {
  Status status;
  ChangeMap map;
};

// The WalDecoder over pg_wal's segments from `from`'s segment to stop `to`.
Decoded decode(uint64_t from, uint64_t to) {
  WalDecoder decoder(to);
  for (uint64_t segno = pg::segno_of(from, kSeg); !decoder.done(); ++segno) {
    const std::string bytes = segment_bytes(segno);
    if (Status st = decoder.feed({segno, 1, bytes}); !st) return {st, {}};
  }
  return {Status::ok(), decoder.take()};
}

ChangeMap decode_ok(uint64_t from, uint64_t to) {
  auto d = decode(from, to);
  INFO(d.status.to_string());
  REQUIRE(d.status);
  return std::move(d.map);
}

// A range with a workload: its start, then runs `sql`, then its end (segment
// completed). It starts a segment, since decoding starts at the segment's start.
std::pair<uint64_t, uint64_t> range_of(const std::vector<std::string>& sql, const std::string& db = "postgres") {
  switch_wal();
  const uint64_t from = insert_lsn();
  for (const auto& s : sql) (void)server().psql(s, db);
  const uint64_t to = insert_lsn();
  switch_wal();
  return {from, to};
}

struct Oracle {
  std::set<std::tuple<uint32_t, uint32_t, uint32_t, uint8_t, uint32_t>> blocks;
  uint64_t records = 0;
};

uint8_t fork_number(const std::string& name) {
  if (name.empty() || name == "main") return 0;
  return name == "fsm" ? 1 : name == "vm" ? 2 : 3;
}

// pg_waldump --bkp-details over [start of from's segment, to).
Oracle waldump(uint64_t from, uint64_t to) {
  auto r = run_program({pg_bindir() + "/pg_waldump", "--bkp-details", "-p", server().data_dir() + "/pg_wal", "-s",
                        pg::format_lsn(pg::segment_start(pg::segno_of(from, kSeg), kSeg)), "-e", pg::format_lsn(to)});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  Oracle o;
  const std::regex ref(R"(blkref #\d+: rel (\d+)/(\d+)/(\d+)(?: fork (\w+))? blk (\d+))");
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("rmgr: ", 0) == 0) ++o.records;
    for (std::sregex_iterator it(line.begin(), line.end(), ref), end; it != end; ++it)
      o.blocks.insert({static_cast<uint32_t>(std::stoul((*it)[1])), static_cast<uint32_t>(std::stoul((*it)[2])),
                       static_cast<uint32_t>(std::stoul((*it)[3])), fork_number((*it)[4]),
                       static_cast<uint32_t>(std::stoul((*it)[5]))});
  }
  return o;
}

Oracle as_oracle(const ChangeMap& map) {
  Oracle o;
  for (const auto& [f, blocks] : map.blocks)
    for (uint32_t b : blocks) o.blocks.insert({f.spc, f.db, f.rel, f.fork, b});
  o.records = map.records;
  return o;
}

void pgbench(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {
      pg_bindir() + "/pgbench", "-h", server().socket_dir(), "-p", std::to_string(server().port()), "-U", "postgres"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("postgres");
  auto r = run_program(argv);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

std::optional<uint32_t> limit_of(const ChangeMap& map, uint32_t rel, uint8_t fork) {
  auto it = map.limits.find({1663, postgres_oid(), rel, fork});
  if (it == map.limits.end()) return std::nullopt;
  return it->second;
}

}  // namespace

TEST_CASE("the decoder finds the block references and records pg_waldump prints", "[incr]") {
  switch_wal();
  const uint64_t from = insert_lsn();
  pgbench({"-i", "-s", "3", "-q"});
  (void)server().psql(
      "CREATE TABLE oracle_t (id int, v text); INSERT INTO oracle_t SELECT g, repeat('x', 100) FROM "
      "generate_series(1, 5000) g; UPDATE oracle_t SET v = 'y' WHERE id % 7 = 0; CREATE INDEX ON oracle_t (id)");
  pgbench({"-n", "-t", "300"});
  const uint64_t to = insert_lsn();
  switch_wal();
  const ChangeMap map = decode_ok(from, to);
  const Oracle want = waldump(from, to);
  const Oracle got = as_oracle(map);
  CHECK(got.records == want.records);
  CHECK(got.blocks.size() == want.blocks.size());
  CHECK(got.blocks == want.blocks);
  CHECK(map.blocks.count({1663, postgres_oid(), filenode("oracle_t"), 0}) == 1);
  CHECK(pg::segno_of(to, kSeg) > pg::segno_of(from, kSeg));  // several segments
}

TEST_CASE("creating, truncating, vacuuming and dropping tables set limit blocks", "[incr]") {
  (void)server().psql(
      "CREATE TABLE ev_trunc (id int); INSERT INTO ev_trunc SELECT generate_series(1, 3000);"
      "CREATE TABLE ev_vac (id int); INSERT INTO ev_vac SELECT generate_series(1, 20000);"
      "CREATE TABLE ev_drop (id int); INSERT INTO ev_drop VALUES (1)");
  (void)server().psql("VACUUM ev_trunc");
  const uint32_t old_trunc = filenode("ev_trunc"), vac = filenode("ev_vac"), dropped = filenode("ev_drop");
  auto [from, to] = range_of({"CREATE TABLE ev_new (id int)", "TRUNCATE ev_trunc", "DELETE FROM ev_vac WHERE id > 500",
                              "VACUUM ev_vac", "DROP TABLE ev_drop"});
  const ChangeMap map = decode_ok(from, to);
  CHECK(limit_of(map, filenode("ev_new"), 0) == 0u);
  CHECK(limit_of(map, filenode("ev_trunc"), 0) == 0u);  // the new relfilenode
  CHECK(limit_of(map, old_trunc, 0) == 0u);
  CHECK(limit_of(map, old_trunc, 2) == 0u);  // only the commit names its vm
  const uint32_t vac_blocks = number("SELECT pg_relation_size('ev_vac') / 8192");
  CHECK(vac_blocks > 0);
  INFO("ev_vac main limit " << limit_of(map, vac, 0).value_or(~0u));
  CHECK(limit_of(map, vac, 0) == vac_blocks);
  CHECK(limit_of(map, dropped, 0) == 0u);
  CHECK(limit_of(map, dropped, 3) == 0u);
  CHECK_FALSE(limit_of(map, dropped, 1).has_value());
}

TEST_CASE("creating and dropping databases make them whole", "[incr]") {
  (void)server().psql("DROP DATABASE IF EXISTS ev_gone");
  (void)server().psql("CREATE DATABASE ev_gone");
  const uint32_t gone = number("SELECT oid FROM pg_database WHERE datname = 'ev_gone'");
  auto [from, to] = range_of({"DROP DATABASE IF EXISTS ev_copy", "DROP DATABASE IF EXISTS ev_wal",
                              "CREATE DATABASE ev_copy STRATEGY FILE_COPY", "CREATE DATABASE ev_wal STRATEGY WAL_LOG",
                              "DROP DATABASE ev_gone"});
  const ChangeMap map = decode_ok(from, to);
  const uint32_t copy = number("SELECT oid FROM pg_database WHERE datname = 'ev_copy'");
  const uint32_t wal_log = number("SELECT oid FROM pg_database WHERE datname = 'ev_wal'");
  CHECK(map.whole_databases.count({1663, copy}) == 1);
  CHECK(map.whole_databases.count({1663, wal_log}) == 1);
  CHECK(map.whole_databases.count({1663, gone}) == 1);
  CHECK(map.whole_databases.count({1663, postgres_oid()}) == 0);
  (void)server().psql("DROP DATABASE ev_copy");
  (void)server().psql("DROP DATABASE ev_wal");
}

TEST_CASE("records across page and segment boundaries decode", "[incr]") {
  switch_wal();
  const uint64_t from = insert_lsn();
  // 20 kB messages span three pages each; 1000 of them cross a segment.
  (void)server().psql(
      "SELECT count(pg_logical_emit_message(false, 'cellar', repeat('m', 20000))) "
      "FROM generate_series(1, 1000)");
  const uint64_t second = insert_lsn();
  (void)server().psql("CREATE TABLE span_late (id int); INSERT INTO span_late SELECT generate_series(1, 2000)");
  const uint64_t to = insert_lsn();
  switch_wal();
  REQUIRE(pg::segno_of(second, kSeg) > pg::segno_of(from, kSeg));
  const ChangeMap map = decode_ok(from, to);
  CHECK(map.records > 1000);
  CHECK(map.records == waldump(from, to).records);
  auto late = map.blocks.find({1663, postgres_oid(), filenode("span_late"), 0});
  REQUIRE(late != map.blocks.end());
  CHECK(late->second.size() == number("SELECT pg_relation_size('span_late') / 8192"));
}

TEST_CASE("build_change_map reads archived segments, awaits each, and names the first missing one", "[incr]") {
  switch_wal();
  const uint64_t from = insert_lsn();
  (void)server().psql("CREATE TABLE arch_t (id int); INSERT INTO arch_t SELECT generate_series(1, 1000)");
  switch_wal();
  (void)server().psql("INSERT INTO arch_t SELECT generate_series(1, 1000)");
  const uint64_t to = insert_lsn();
  switch_wal();
  TempDir dir;
  const std::string wals = wal::wals_dir(dir.path());
  ChangeRange range{dir.path(), 1, from, to, kSeg, {}};
  const std::string second = pg::make_segment_name(1, pg::segno_of(to, kSeg), kSeg);
  for (uint64_t segno = pg::segno_of(from, kSeg); segno < pg::segno_of(to, kSeg); ++segno) {
    const std::string name = pg::make_segment_name(1, segno, kSeg);
    auto packed = codec::compress_buffer(segment_bytes(segno), codec::Codec::zstd);
    REQUIRE(packed);
    REQUIRE(make_dirs(wal::archive_dir_for(wals, name)));
    write_text(wal::archive_dir_for(wals, name) + "/" + name + ".zst", *packed);
  }
  auto missing = build_change_map(range);
  REQUIRE_FALSE(missing);
  CHECK(missing.status().message() == "WAL segment " + second + " is not archived");
  // With an await, each segment is asked for in order before it is read: an
  // await that fails stops the map with its reason, and a segment that
  // arrives while it is awaited is read.
  std::vector<std::string> asked;
  ChangeRange failing = range;
  failing.await = [&](const std::string& name) {
    asked.push_back(name);
    return name == second ? Status::failed("it never came") : Status::ok();
  };
  auto gave_up = build_change_map(failing);
  REQUIRE_FALSE(gave_up);
  CHECK(gave_up.status().message() == "it never came");
  REQUIRE(asked.size() == pg::segno_of(to, kSeg) - pg::segno_of(from, kSeg) + 1);
  CHECK(asked.front() == pg::make_segment_name(1, pg::segno_of(from, kSeg), kSeg));
  CHECK(asked.back() == second);
  ChangeRange arriving = range;
  arriving.await = [&](const std::string& name) {
    if (name == second) {
      if (!make_dirs(wal::archive_dir_for(wals, second))) return Status::failed("mkdir");
      write_text(wal::archive_dir_for(wals, second) + "/" + second, segment_bytes(pg::segno_of(to, kSeg)));
    }
    return Status::ok();
  };
  auto built = build_change_map(arriving);
  INFO(built.status().to_string());
  REQUIRE(built);
  CHECK(as_oracle(*built).blocks == as_oracle(decode_ok(from, to)).blocks);
  CHECK(built->blocks.count({1663, postgres_oid(), filenode("arch_t"), 0}) == 1);
}

TEST_CASE("a segment fed in pieces decodes as when fed whole, and pieces out of order are refused", "[incr]") {
  auto [from, to] = range_of({"CREATE TABLE piece_t (id int, v text)",
                              "INSERT INTO piece_t SELECT g, repeat('p', 80) FROM generate_series(1, 200000) g"});
  REQUIRE(pg::segno_of(to, kSeg) > pg::segno_of(from, kSeg));  // records across a segment boundary too
  WalDecoder decoder(to);
  constexpr uint64_t kPiece = 3 * 8192;
  for (uint64_t segno = pg::segno_of(from, kSeg); !decoder.done(); ++segno) {
    const std::string bytes = segment_bytes(segno);
    for (uint64_t at = 0; at < kSeg && !decoder.done(); at += kPiece)
      REQUIRE(decoder.feed({segno, 1, std::string_view(bytes).substr(at, std::min(kPiece, kSeg - at)), at, kSeg}));
  }
  CHECK(as_oracle(decoder.take()).blocks == as_oracle(decode_ok(from, to)).blocks);
  WalDecoder other(to);
  const std::string first = segment_bytes(pg::segno_of(from, kSeg));
  REQUIRE(other.feed({pg::segno_of(from, kSeg), 1, std::string_view(first).substr(0, 8192), 0, kSeg}));
  auto skipped = other.feed({pg::segno_of(from, kSeg), 1, std::string_view(first).substr(16384, 8192), 16384, kSeg});
  REQUIRE_FALSE(skipped);
  CHECK(skipped.message().find("does not follow") != std::string::npos);
}

TEST_CASE("build_change_map refuses an archived segment of the wrong size where it reads", "[incr]") {
  auto [from, to] = range_of({"CREATE TABLE size_t1 (id int)", "INSERT INTO size_t1 SELECT generate_series(1, 50000)"});
  TempDir dir;
  const std::string wals = wal::wals_dir(dir.path());
  const uint64_t segno = pg::segno_of(from, kSeg);
  REQUIRE(pg::segno_of(to, kSeg) == segno);
  const std::string name = pg::make_segment_name(1, segno, kSeg);
  REQUIRE(make_dirs(wal::archive_dir_for(wals, name)));
  const std::string bytes = segment_bytes(segno);
  ChangeRange range{dir.path(), 1, from, to, kSeg, {}};
  // Cut before the records end: the decoder needs what is missing.
  write_text(wal::archive_dir_for(wals, name) + "/" + name, bytes.substr(0, 8192 * 3));
  auto cut = build_change_map(range);
  REQUIRE_FALSE(cut);
  CHECK(cut.status().message() ==
        "WAL segment " + name + " holds " + std::to_string(8192 * 3) + " bytes, not " + std::to_string(kSeg));
  // Whole, and the map is built.
  write_text(wal::archive_dir_for(wals, name) + "/" + name, bytes);
  auto whole = build_change_map(range);
  INFO(whole.status().to_string());
  REQUIRE(whole);
  CHECK(as_oracle(*whole).blocks == as_oracle(decode_ok(from, to)).blocks);
}

TEST_CASE("a corrupt byte in a record is an error naming its LSN", "[incr]") {
  switch_wal();
  const uint64_t from = insert_lsn();
  (void)server().psql(
      "CREATE TABLE bad_t (id int, v text); INSERT INTO bad_t SELECT g, repeat('z', 50) FROM "
      "generate_series(1, 200000) g");
  const uint64_t to = insert_lsn();
  switch_wal();
  const uint64_t segno = pg::segno_of(from, kSeg);
  REQUIRE(pg::segno_of(to, kSeg) > segno);  // the whole first segment is records
  std::string bytes = segment_bytes(segno);
  WalDecoder clean(to);
  REQUIRE(clean.feed({segno, 1, bytes}));
  // Continuation data, or else the CRC of the record opening the page: bytes
  // a CRC covers (padding between records is not).
  const size_t page = kSeg / 2;
  uint32_t rem_len = 0;
  std::memcpy(&rem_len, bytes.data() + page + 16, 4);
  const bool cont = (bytes[page + 2] & 0x1) != 0 && rem_len != 0;
  bytes[page + (cont ? 24 : 44)] ^= 0x5A;
  WalDecoder decoder(to);
  Status st = decoder.feed({segno, 1, bytes});
  REQUIRE_FALSE(st);
  CHECK_THAT(st.message(), Contains("WAL record at 0/") && Contains("incorrect checksum"));
}

namespace {

// A 1 MiB segment 5 of timeline 1 holding one record of resource manager
// `rmid` with `info` and 4 bytes of main data, its CRC right.
std::string synthetic_segment(uint8_t rmid, uint8_t info) {
  const uint64_t size = 1u << 20;
  std::string s(size, '\0');
  auto put = [&](size_t at, uint64_t v, size_t n) {
    for (size_t i = 0; i < n; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
  };
  put(0, 0xD110, 2);
  put(2, 0x0002, 2);
  put(4, 1, 4);
  put(8, 5 * size, 8);
  put(24, 42, 8);
  put(32, size, 4);
  put(36, 8192, 4);
  const size_t r = 40, len = 24 + 2 + 4;
  put(r, len, 4);
  put(r + 16, info, 1);
  put(r + 17, rmid, 1);
  put(r + 24, 255, 1);
  put(r + 25, 4, 1);
  put(r + 26, 0xDEADBEEF, 4);
  Crc32c crc;
  crc.update(std::string_view(s).substr(r + 24, len - 24));
  crc.update(std::string_view(s).substr(r, 20));
  put(r + 20, crc.value(), 4);
  return s;
}

}  // namespace

TEST_CASE("a record changing files in a way the decoder does not know is an error", "[incr]") {
  const uint64_t base = 5 * (1u << 20);
  const std::string plain = synthetic_segment(200, 0x10);
  WalDecoder ok(base + 72);
  REQUIRE(ok.feed({5, 1, plain}));
  CHECK(ok.done());
  CHECK(ok.changes().records == 1);
  const std::string special = synthetic_segment(200, 0x11);
  WalDecoder decoder(base + 72);
  Status st = decoder.feed({5, 1, special});
  REQUIRE_FALSE(st);
  CHECK_THAT(st.message(), Contains("WAL record at 0/500028") && Contains("resource manager 200"));
  std::string bad_page = plain;
  bad_page[8] = 1;  // pageaddr
  CHECK_FALSE(WalDecoder(base + 72).feed({5, 1, bad_page}));
}
