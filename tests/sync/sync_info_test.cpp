// sync-info on the primary: the document's parts and the LAST_WAL /
// LAST_POSITION semantics, on a catalogue written by hand (no PostgreSQL).
#include <catch2/catch.hpp>

#include "catalog/backup_info.h"
#include "common/fs.h"
#include "common/json.h"
#include "support/cellar_env.h"
#include "wal/xlogdb.h"

using namespace cellar;
using namespace cellar::test;

namespace {

const char* const kWals[] = {"000000010000000000000002", "000000010000000000000003", "000000010000000000000004"};

// A server "main" with three catalogued WAL and one DONE backup starting at the second.
struct Primary {
  CellarEnv env;
  std::vector<uint64_t> offsets;
  Primary() {
    env.add_server("main", "host=db1 user=cellar password=s3cret");
    std::string wals = env.server_dir("main") + "/wals";
    REQUIRE(make_dirs(wals));
    std::string text;
    for (const char* name : kWals) {
      offsets.push_back(text.size());
      text += wal::format_xlog_entry({name, 16777216, 1795342120.5, codec::Codec::none, {}});
    }
    write_text(wals + "/xlog.db", text + "00000001000000000000");  // torn tail: ignored
    std::string dir = env.server_dir("main") + "/base/20261122T100810";
    REQUIRE(make_dirs(dir));
    catalog::BackupInfo info;
    info.backup_id = "20261122T100810";
    info.server_name = "main";
    info.status = catalog::BackupStatus::done;
    info.begin_wal = kWals[1];
    info.end_wal = kWals[1];
    info.end_time = catalog::Timestamp::local(1795342130);
    info.timeline = 1;
    REQUIRE(catalog::save_backup_info(dir, info));
  }
  Json sync_info(const std::vector<std::string>& extra, int expected_exit = 0) const {
    std::vector<std::string> args{"sync-info", "main"};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = env.run(args);
    INFO(r.err);
    REQUIRE(r.exit_code == expected_exit);
    if (expected_exit != 0) return Json();
    auto doc = Json::parse(r.out);
    REQUIRE(doc);
    return *doc;
  }
};

std::vector<std::string> wal_names(const Json& doc) {
  std::vector<std::string> out;
  for (const Json& w : doc.find("wals")->as_array()) out.push_back(w.find("name")->as_string());
  return out;
}

}  // namespace

TEST_CASE("sync-info describes DONE backups, WAL, last line, version and config without passwords", "[sync]") {
  Primary p;
  Json doc = p.sync_info({});
  CHECK(doc.find("last_name")->as_string() == kWals[2]);
  CHECK(doc.find("last_position")->as_int() == static_cast<int64_t>(p.offsets[2]));
  // Without LAST_WAL: from the first backup's begin_wal.
  CHECK(wal_names(doc) == std::vector<std::string>{kWals[1], kWals[2]});
  const Json* backup = doc.find("backups")->find("20261122T100810");
  REQUIRE(backup);
  CHECK(backup->find("status")->as_string() == "DONE");
  CHECK(backup->find("begin_wal")->as_string() == kWals[1]);
  CHECK(doc.find("version")->is_string());
  CHECK(doc.find("config")->find("name")->as_string() == "main");
  std::string text = doc.dump();
  CHECK(text.find("s3cret") == std::string::npos);
  CHECK(doc.find("wals")->as_array()[0].find("size")->as_int() == 16777216);
}

TEST_CASE("sync-info lists the WAL after LAST_WAL, with or without a position", "[sync]") {
  Primary p;
  CHECK(wal_names(p.sync_info({kWals[0]})) == std::vector<std::string>{kWals[1], kWals[2]});
  // Position 0 is the start of the first line: accepted (Barman rejects it).
  CHECK(wal_names(p.sync_info({kWals[0], "0"})) == std::vector<std::string>{kWals[1], kWals[2]});
  CHECK(wal_names(p.sync_info({kWals[1], std::to_string(p.offsets[1])})) == std::vector<std::string>{kWals[2]});
  // A position that does not start LAST_WAL's line falls back to a scan.
  CHECK(wal_names(p.sync_info({kWals[1], "7"})) == std::vector<std::string>{kWals[2]});
  CHECK(wal_names(p.sync_info({kWals[1], "999999"})) == std::vector<std::string>{kWals[2]});
  // Up to date: nothing to send.
  CHECK(wal_names(p.sync_info({kWals[2], std::to_string(p.offsets[2])})).empty());
}

TEST_CASE("sync-info fails with exit 1 for a LAST_WAL outside the catalogue", "[sync]") {
  Primary p;
  RunResult older = p.env.run({"sync-info", "main", "000000010000000000000001"});
  CHECK(older.exit_code == 1);
  CHECK(older.err.find("older than the first available WAL") != std::string::npos);
  RunResult newer = p.env.run({"sync-info", "main", "000000010000000000000009", "0"});
  CHECK(newer.exit_code == 1);
  CHECK(newer.err.find("newer than the last available WAL") != std::string::npos);
}

TEST_CASE("sync-info rejects a malformed LAST_WAL or LAST_POSITION with exit 2", "[sync]") {
  Primary p;
  CHECK(p.env.run({"sync-info", "main", "../../etc/passwd"}).exit_code == 2);
  CHECK(p.env.run({"sync-info", "main", kWals[0], "-1"}).exit_code == 2);
  CHECK(p.env.run({"sync-info", "main", kWals[0], "abc"}).exit_code == 2);
  CHECK(p.env.run({"sync-info", "nosuch"}).exit_code == 2);
}

TEST_CASE("sync-info of an empty catalogue has position 0 and no name", "[sync]") {
  CellarEnv env;
  env.add_server("main", "host=db1 user=cellar");
  RunResult r = env.run({"sync-info", "main"});
  REQUIRE(r.exit_code == 0);
  auto doc = Json::parse(r.out);
  REQUIRE(doc);
  CHECK(doc->find("last_position")->as_int() == 0);
  CHECK(doc->find("last_name")->as_string().empty());
  CHECK(doc->find("wals")->as_array().empty());
}
