// backup.info through its one typed description (catalog/backup_info.h): the
// exact text of a fully populated file, round trips, values that are not of
// their key's type, keys the table does not know, and the value types'
// near misses.
#include "catalog/backup_info.h"

#include <catch2/catch.hpp>

#include "common/fs.h"
#include "support/cellar_env.h"
#include "support/run.h"

using namespace cellar;
using namespace cellar::catalog;
using Catch::Matchers::Contains;

namespace {

// Every member set, times in two zones (one with Barman's microseconds),
// and two keys this cellar does not know.
BackupInfo full_info() {
  BackupInfo i;
  i.backup_id = "20261122T100839";
  i.backup_name = "nightly";
  i.server_name = "main";
  i.status = BackupStatus::done;
  i.mode = "postgres";
  i.begin_time = Timestamp{1795338490, 3600, ""};        // 2026-11-22 10:08:10+01:00
  i.end_time = Timestamp{1795354720, -12600, "250000"};  // 2026-11-22 10:08:40.250000-03:30
  i.begin_wal = "000000010000000000000002";
  i.end_wal = "000000010000000000000002";
  i.begin_xlog = "0/2000028";
  i.end_xlog = "0/2000100";
  i.begin_offset = 40;
  i.end_offset = 256;
  i.timeline = 1;
  i.systemid = "7318842131958432768";
  i.version = 150004;
  i.size = 38000000;
  i.deduplicated_size = 1000000;
  i.cluster_size = 40000000;
  i.compression = "zstd";
  i.tablespaces = {{"tbs1", 16387, "/loc/a"}, {"tbs2", 16390, "/b"}};
  i.keep = "full";
  i.error = "failure copying files (disk full)";
  i.pgdata = "/var/lib/postgresql/15/main";
  i.config_file = "/etc/postgresql/15/main/postgresql.conf";
  i.hba_file = "/etc/postgresql/15/main/pg_hba.conf";
  i.ident_file = "/etc/postgresql/15/main/pg_ident.conf";
  i.data_checksums = "on";
  i.xlog_segment_size = 16777216;
  i.copy_stats = "{'copy_time': 1.234, 'number_of_workers': 2}";
  i.type = "incremental";
  i.parent_backup_id = "20261121T100839";
  i.unknown = {{"included_files", ""}, {"x_future_key", "7"}};
  return i;
}

const char* const kFullText =
    "backup_id=20261122T100839\n"
    "backup_name=nightly\n"
    "begin_offset=40\n"
    "begin_time=2026-11-22 10:08:10+01:00\n"
    "begin_wal=000000010000000000000002\n"
    "begin_xlog=0/2000028\n"
    "cluster_size=40000000\n"
    "compression=zstd\n"
    "config_file=/etc/postgresql/15/main/postgresql.conf\n"
    "copy_stats={'copy_time': 1.234, 'number_of_workers': 2}\n"
    "data_checksums=on\n"
    "deduplicated_size=1000000\n"
    "end_offset=256\n"
    "end_time=2026-11-22 10:08:40.250000-03:30\n"
    "end_wal=000000010000000000000002\n"
    "end_xlog=0/2000100\n"
    "error=failure copying files (disk full)\n"
    "hba_file=/etc/postgresql/15/main/pg_hba.conf\n"
    "ident_file=/etc/postgresql/15/main/pg_ident.conf\n"
    "included_files=None\n"
    "keep=full\n"
    "mode=postgres\n"
    "parent_backup_id=20261121T100839\n"
    "pgdata=/var/lib/postgresql/15/main\n"
    "server_name=main\n"
    "size=38000000\n"
    "status=DONE\n"
    "systemid=7318842131958432768\n"
    "tablespaces=[('tbs1', 16387, '/loc/a'), ('tbs2', 16390, '/b')]\n"
    "timeline=1\n"
    "type=incremental\n"
    "version=150004\n"
    "x_future_key=7\n"
    "xlog_segment_size=16777216\n";

}  // namespace

TEST_CASE("a fully populated backup.info is written key for key, sorted", "[catalog]") {
  CHECK(format_backup_info(full_info()) == kFullText);
}

TEST_CASE("backup.info round-trips through its text", "[catalog]") {
  auto parsed = parse_backup_info(kFullText, "full");
  REQUIRE(parsed);
  CHECK(*parsed == full_info());
  CHECK(format_backup_info(*parsed) == kFullText);

  // What a fresh STARTED backup holds: every key, None for the unknown yet.
  BackupInfo started;
  started.backup_id = "20261122T100839";
  started.status = BackupStatus::started;
  started.begin_time = Timestamp::local(1795338490);
  std::string text = format_backup_info(started);
  CHECK_THAT(text, Contains("backup_id=20261122T100839\n"));
  CHECK_THAT(text, Contains("error=None\nhba_file=None\n"));
  CHECK_THAT(text, Contains("size=None\n") && Contains("tablespaces=None\n") && Contains("end_time=None\n"));
  CHECK_THAT(text, !Contains("backup_name"));  // Barman leaves a null name out
  CHECK_THAT(text, Contains("begin_time=" + format_time(1795338490) + "\n"));
  auto back = parse_backup_info(text, "started");
  REQUIRE(back);
  CHECK(*back == started);
  CHECK(info_fields(*back).at("backup_name").empty());  // JSON shows it null
  CHECK_THAT(text, !Contains("encryption"));            // left out when the files are not encrypted
  CHECK(info_fields(*back).size() == 33);
}

TEST_CASE("a backup.info value that is not of its key's type fails the load naming the file and the key", "[catalog]") {
  struct Case {
    std::string line;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"size=12x", "invalid size \"12x\""},
      {"size=-1", "invalid size \"-1\""},
      {"xlog_segment_size=99999999999999999999", "invalid xlog_segment_size"},
      {"begin_time=2026-13-01 00:00:00+00:00", "invalid begin_time \"2026-13-01 00:00:00+00:00\""},
      {"end_time=yesterday", "invalid end_time \"yesterday\""},
      {"status=done", "invalid status \"done\""},
      {"status=None", "invalid status \"None\""},
      {"tablespaces=[('tbs1', x, '/a')]", "invalid tablespaces"},
      {"timeline=1.5", "invalid timeline \"1.5\""},
  };
  test::TempDir dir;
  std::string path = backup_info_path(dir.path());
  for (const auto& c : cases) {
    INFO(c.line);
    test::write_text(path, "backup_id=20261122T100839\nstatus=DONE\n" + c.line + "\n");
    auto info = load_backup_info(dir.path());
    REQUIRE_FALSE(info);
    CHECK(info.status().code() == ErrorCode::failed);
    CHECK_THAT(info.status().message(), Contains(c.says) && Contains("\"" + path + "\"") && Contains("line 3"));
    CHECK_THAT(info.status().message(), Contains("expected"));
  }
  test::write_text(path, "backup_id=20261122T100839\nstatus=DONE\nsize\n");
  CHECK_THAT(load_backup_info(dir.path()).status().message(), Contains("invalid line 3") && Contains(path));

  BackupInfo info;
  Status bad = parse_info_field(info, "end_offset", "0x10");
  REQUIRE_FALSE(bad);
  CHECK(bad.message() == "invalid end_offset \"0x10\": expected an unsigned integer");
  CHECK(parse_info_field(info, "end_offset", "None"));
  CHECK_FALSE(info.end_offset);
}

TEST_CASE("keys backup.info does not know survive a load and a save", "[catalog]") {
  test::TempDir dir;
  const std::string barman =
      "backup_id=20261122T100839\n"
      "backup_label='START WAL LOCATION: 0/2000028'\n"
      "begin_time=2026-11-22 10:08:10.839146+02:00\n"
      "parent_backup_id=None\n"
      "status=WAITING_FOR_WALS\n"
      "systemid=7318842131958432768\n";
  test::write_text(backup_info_path(dir.path()), barman);
  auto info = load_backup_info(dir.path());
  REQUIRE(info);
  CHECK(info->unknown.at("backup_label") == "'START WAL LOCATION: 0/2000028'");
  CHECK(info->parent_backup_id.empty());  // Barman's None: no parent
  CHECK(info->unknown.count("parent_backup_id") == 0);
  CHECK(info->begin_time == Timestamp{1795334890, 7200, "839146"});
  info->status = BackupStatus::done;
  REQUIRE(save_backup_info(dir.path(), *info));
  std::string saved = test::read_text(backup_info_path(dir.path()));
  CHECK_THAT(saved, Contains("backup_label='START WAL LOCATION: 0/2000028'\n"));
  CHECK_THAT(saved, Contains("begin_time=2026-11-22 10:08:10.839146+02:00\n"));
  CHECK_THAT(saved, Contains("parent_backup_id=None\n"));
  CHECK_THAT(saved, Contains("status=DONE\n"));
  CHECK(info_fields(*info).at("backup_label") == "'START WAL LOCATION: 0/2000028'");
}

TEST_CASE("statuses have one name each, and only those names parse", "[catalog]") {
  for (BackupStatus s : {BackupStatus::empty, BackupStatus::started, BackupStatus::waiting_for_wals, BackupStatus::done,
                         BackupStatus::failed, BackupStatus::syncing})
    CHECK(parse_status(status_name(s)) == s);
  CHECK(status_name(BackupStatus::waiting_for_wals) == "WAITING_FOR_WALS");
  for (const char* bad : {"", "None", "done", "DONE ", "WAITING"}) CHECK_FALSE(parse_status(bad));
}

TEST_CASE("backup times parse in their exact shapes and keep their zone", "[catalog]") {
  CHECK(parse_timestamp("2026-11-22 09:08:10+00:00") == Timestamp{1795338490, 0, ""});
  CHECK(parse_timestamp("2026-11-22 09:08:10") == Timestamp{1795338490, 0, ""});  // no zone: UTC
  CHECK(parse_timestamp("2026-11-22 14:38:10.5+05:30") == Timestamp{1795338490, 19800, "5"});
  CHECK(format_timestamp(*parse_timestamp("2026-11-22 14:38:10.5+05:30")) == "2026-11-22 14:38:10.5+05:30");
  CHECK(format_timestamp(*parse_timestamp("2026-11-22 07:38:10.839146-01:30")) == "2026-11-22 07:38:10.839146-01:30");
  CHECK(parse_timestamp(format_time(1700000000))->epoch == 1700000000);
  for (const char* bad :
       {"", "2026-11-22", "2026-11-22T09:08:10+00:00", "2026-11-22 09:08:10 +00:00", "2026-11-22 09:08:10+0000",
        "2026-11-22 09:08:10+1:00", "2026-02-30 00:00:00", "2026-11-22 24:00:00", "2026-11-22 09:08:60",
        "2026-11-22 09:08:10.", "26-11-22 09:08:10", "2026-11-22 09:08:10.1234567", "2026-11-22 09:08:10+00:00x"}) {
    INFO(bad);
    CHECK_FALSE(parse_timestamp(bad));
  }
}

TEST_CASE("tablespace lists parse only in Barman's repr", "[catalog]") {
  std::vector<Tablespace> two = {{"tbs1", 16387, "/loc/a"}, {"tbs 2", 16390, "/b, c"}};
  CHECK(parse_tablespaces(format_tablespaces(two)) == two);
  CHECK(parse_tablespaces("")->empty());
  CHECK(parse_tablespaces("[]")->empty());
  CHECK(format_tablespaces({}).empty());
  for (const char* bad : {"[('tbs1', 16387, '/a')", "('tbs1', 16387, '/a')", "[('tbs1', , '/a')]",
                          "[('tbs1', 16387x, '/a')]", "[('tbs1', 16387, '/a'),]", "[('tbs1', 16387, '/a')] ",
                          "[('tbs1', 99999999999, '/a')]", "[(\"tbs1\", 16387, '/a')]"}) {
    INFO(bad);
    CHECK_FALSE(parse_tablespaces(bad));
  }
}

TEST_CASE("a DONE backup.info that lacks its WAL, end time or timeline counts as FAILED, never DONE", "[catalog]") {
  cellar::test::CellarEnv env;
  env.add_server("main", "host=127.0.0.1 port=1 dbname=postgres");
  const std::string dir = env.server_dir("main") + "/base/20261201T000000";
  REQUIRE(cellar::make_dirs(dir));
  cellar::test::write_text(dir + "/backup.info", "status=DONE\n");
  auto list = env.run({"list-backups", "main"});
  INFO(list.out << list.err);
  CHECK(list.exit_code == 0);
  CHECK(list.out.find("main 20261201T000000 - FAILED") != std::string::npos);
  CHECK(list.err.find("counts as FAILED: its backup.info lacks begin_wal, end_wal, end_time, timeline") !=
        std::string::npos);
  auto recover = env.run({"recover", "main", "latest", env.home() + "/restore"});
  CHECK(recover.exit_code != 0);  // no DONE backup to restore
  auto deleted = env.run({"delete", "main", "20261201T000000"});
  INFO(deleted.err);
  CHECK(deleted.exit_code == 0);  // named by its directory, so it can be removed
}
