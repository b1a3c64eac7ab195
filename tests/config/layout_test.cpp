// The server-directory layout (config/layout.h), table-driven as leveldb's
// filename_test: every path shape made by a make function parses back to its
// kind and fields, and a list of near misses parses to nothing.
#include "config/layout.h"

#include <catch2/catch.hpp>
#include <string>

using namespace cellar;
using layout::PathKind;

namespace {

const std::string kServer = "/var/lib/cellar/main";

std::string relative(const std::string& path) {
  REQUIRE(path.compare(0, kServer.size() + 1, kServer + "/") == 0);
  return path.substr(kServer.size() + 1);
}

struct Shape {
  std::string path;  // made by layout::
  PathKind kind;
  std::string backup_id;
  std::string wal_name;
  codec::Codec codec;
  std::string rest;
};

}  // namespace

TEST_CASE("every path the layout makes parses back to its kind and fields", "[config][layout]") {
  const std::string id = "20261201T020000";
  const std::string seg = "000000010000000A000000FE";
  const std::string backup = layout::backup_dir(kServer, id);
  const Shape shapes[] = {
      {layout::identity_file(kServer), PathKind::identity, "", "", codec::Codec::none, ""},
      {backup, PathKind::backup_dir, id, "", codec::Codec::none, ""},
      {layout::backup_info_file(backup), PathKind::backup_info, id, "", codec::Codec::none, ""},
      {layout::backup_manifest_file(backup), PathKind::backup_manifest, id, "", codec::Codec::none, ""},
      {layout::backup_data_dir(backup) + "/base/1/1259.zst", PathKind::backup_file, id, "", codec::Codec::zstd,
       "data/base/1/1259.zst"},
      {layout::backup_data_dir(backup) + "/PG_VERSION", PathKind::backup_file, id, "", codec::Codec::none,
       "data/PG_VERSION"},
      {layout::backup_tablespace_dir(backup, 16384) + "/PG_15_202209061/5/16385.lz4", PathKind::backup_file, id, "",
       codec::Codec::lz4, "16384/PG_15_202209061/5/16385.lz4"},
      {layout::xlogdb_file(kServer), PathKind::xlogdb, "", "", codec::Codec::none, ""},
      {layout::sync_bookmark_file(kServer), PathKind::sync_bookmark, "", "", codec::Codec::none, ""},
      {layout::archived_wal_file(kServer, seg, codec::Codec::none), PathKind::archived_wal, "", seg, codec::Codec::none,
       ""},
      {layout::archived_wal_file(kServer, seg, codec::Codec::gzip), PathKind::archived_wal, "", seg, codec::Codec::gzip,
       ""},
      {layout::archived_wal_file(kServer, seg + ".00000028.backup", codec::Codec::zstd), PathKind::archived_wal, "",
       seg + ".00000028.backup", codec::Codec::zstd, ""},
      {layout::archived_wal_file(kServer, "00000002.history", codec::Codec::none), PathKind::archived_wal, "",
       "00000002.history", codec::Codec::none, ""},
      {layout::streaming_dir(kServer) + "/" + seg, PathKind::streaming_segment, "", seg, codec::Codec::none, ""},
      {layout::streaming_dir(kServer) + "/" + layout::partial_name(seg), PathKind::streaming_partial, "", seg,
       codec::Codec::none, ""},
      {layout::streaming_dir(kServer) + "/00000003.history", PathKind::streaming_segment, "", "00000003.history",
       codec::Codec::none, ""},
      {layout::incoming_dir(kServer) + "/" + seg, PathKind::incoming, "", seg, codec::Codec::none, ""},
      {layout::errors_dir(kServer) + "/" + layout::error_name(seg, "20261201T020304Z", "duplicate"), PathKind::error,
       "", seg, codec::Codec::none, "duplicate"},
      {layout::errors_dir(kServer) + "/" + layout::error_name("core.1234", "20261201T020304Z-2", "unknown"),
       PathKind::error, "", "core.1234", codec::Codec::none, "unknown"},
      {layout::receive_wal_state_file(kServer), PathKind::spool_file, "", "", codec::Codec::none, "receive-wal.state"},
      {layout::receive_wal_log_file(kServer), PathKind::spool_file, "", "", codec::Codec::none, "receive-wal.log"},
      {layout::receive_wal_cron_file(kServer), PathKind::spool_file, "", "", codec::Codec::none, "receive-wal.cron"},
      {layout::backup_cron_file(kServer), PathKind::spool_file, "", "", codec::Codec::none, "backup.cron"},
      {layout::backup_log_file(kServer), PathKind::spool_file, "", "", codec::Codec::none, "backup.log"},
  };
  for (const Shape& s : shapes) {
    const std::string rel = relative(s.path);
    INFO(rel);
    auto parsed = layout::parse_path(rel);
    REQUIRE(parsed);
    CHECK(parsed->kind == s.kind);
    CHECK(parsed->backup_id == s.backup_id);
    CHECK(parsed->wal_name == s.wal_name);
    CHECK(parsed->codec == s.codec);
    CHECK(parsed->rest == s.rest);
  }
}

TEST_CASE("near misses of every shape parse to nothing", "[config][layout]") {
  const char* misses[] = {
      "",
      "identity.json/",
      "Identity.json",
      "identity.json.cellar-tmp.12.0",
      "base",
      "base/2026120T020000",
      "base/20261201T020000x",
      "base/../20261201T020000/backup.info",
      "base/20261201T020000/backup.info.old",
      "base/20261201T020000/backup.info/x",
      "base/20261201T020000/datax/PG_VERSION",
      "base/20261201T020000/data",
      "base/20261201T020000/16384x/PG_15/1",
      "base/20261201T020000//backup.info",
      "base/20261201T020000/data/base/1/1259.zst.cellar-tmp.99.1",
      "wals",
      "wals/xlog.db.bak",
      "wals/xlog.db/x",
      "wals/000000010000000A000000FE",                       // a segment outside its hash directory
      "wals/000000010000000B/000000010000000A000000FE",      // in the wrong hash directory
      "wals/000000010000000A/000000010000000A000000FE.bz2",  // no such codec
      "wals/000000010000000A/000000010000000a000000fe",      // lower case
      "wals/0000000100000000/00000002.history",              // history in a hash directory
      "wals/000000010000000A/x/000000010000000A000000FE",
      "wals/000000010000000A/000000010000000A000000FE.zst.cellar-tmp.1.2",
      "streaming/000000010000000A000000FE.partial.tmp",
      "streaming/000000010000000A000000F.partial",
      "streaming/junk",
      "streaming/a/000000010000000A000000FE",
      "incoming/000000010000000A000000FE.gz",
      "incoming/core",
      "errors/000000010000000A000000FE",
      "errors/000000010000000A000000FE.20261201T020304Z",
      "errors/000000010000000A000000FE.20261201T020304.duplicate",
      "errors/000000010000000A000000FE.20261201T020304Z-.duplicate",
      "errors/000000010000000A000000FE.20261201T020304Z.Dup",
      "receive-wal.pid",
      "sync-wals.info",
      "..",
      "./identity.json",
  };
  for (const char* m : misses) {
    INFO("\"" << m << "\"");
    CHECK_FALSE(layout::parse_path(m));
  }
}

TEST_CASE("the server directory has its five directories, in check's order", "[config][layout]") {
  auto dirs = layout::server_subdirs(kServer);
  REQUIRE(dirs.size() == 5);
  CHECK(relative(dirs[0]) == "base");
  CHECK(relative(dirs[1]) == "wals");
  CHECK(relative(dirs[2]) == "streaming");
  CHECK(relative(dirs[3]) == "incoming");
  CHECK(relative(dirs[4]) == "errors");
  for (const auto& d : dirs) CHECK(layout::parse_path(relative(d) + "/") == std::nullopt);
}

TEST_CASE("home holds the auto configuration and the default log", "[config][layout]") {
  CHECK(layout::auto_config_file("/h") == "/h/.cellar.auto.toml");
  CHECK(layout::default_log_file("/h") == "/h/cellar.log");
}
