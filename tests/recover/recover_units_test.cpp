// recover's pieces without PostgreSQL: target parsing and checks, quoting,
// the configuration edits, relocation rules, putting a destination back.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <thread>

#include "common/fs.h"
#include "recover/recover.h"
#include "recover/recover_config.h"
#include "recover/recover_copy.h"
#include "recover/recover_target.h"
#include "support/run.h"

using namespace cellar;
using namespace cellar::recover;
using cellar::catalog::BackupInfo;
using namespace cellar::test;

namespace {

BackupInfo ended_at(const std::string& end_time, const std::string& end_xlog) {
  BackupInfo info;
  info.backup_id = "20260101T000000";
  info.end_time = cellar::catalog::parse_timestamp(end_time);
  REQUIRE(info.end_time);
  info.end_xlog = end_xlog;
  return info;
}

}  // namespace

TEST_CASE("target times with and without zones name the same instant", "[recover]") {
  auto utc = parse_target_time("2026-01-02 03:04:05.25+00");
  REQUIRE(utc);
  CHECK(utc->had_zone);
  CHECK(utc->fraction == "25");
  auto east = parse_target_time("2026-01-02T05:34:05+02:30");
  REQUIRE(east);
  CHECK(east->epoch == utc->epoch);
  CHECK(parse_target_time("2026-01-02 03:04:05Z")->epoch == utc->epoch);
  CHECK(parse_target_time("2026-01-02 03:04:05-0100")->epoch == utc->epoch + 3600);
  CHECK_FALSE(parse_target_time("2026-01-02 03:04:05")->had_zone);
  for (const char* bad : {"", "yesterday", "2026-13-01 00:00:00", "2026-01-02 03:04", "2026-01-02 03:04:05+ab",
                          "2026-01-02 03:04:05.", "2026-01-02x03:04:05"})
    CHECK_FALSE(parse_target_time(bad));
  auto again = parse_target_time(format_target_time(*utc));
  REQUIRE(again);
  CHECK(again->epoch == utc->epoch);
  CHECK(again->fraction == "25");
}

TEST_CASE("targets before the backup's end and inconsistent options are usage errors", "[recover]") {
  BackupInfo info = ended_at("2026-01-02 03:04:05+00:00", "0/3000100");
  auto before = prepare_target({TargetKind::time, "2026-01-02 03:04:04+00", "", "", false}, info);
  REQUIRE_FALSE(before);
  CHECK(before.status().code() == ErrorCode::usage);
  CHECK(before.status().message().find("before the end time") != std::string::npos);
  CHECK_FALSE(prepare_target({TargetKind::lsn, "0/3000000", "", "", false}, info));
  CHECK_FALSE(prepare_target({TargetKind::lsn, "nonsense", "", "", false}, info));
  CHECK_FALSE(prepare_target({TargetKind::xid, "12a", "", "", false}, info));
  CHECK_FALSE(prepare_target({TargetKind::none, "", "", "promote", false}, info));
  CHECK_FALSE(prepare_target({TargetKind::name, "x", "", "", true}, info));
  CHECK_FALSE(prepare_target({TargetKind::xid, "7", "0", "", false}, info));
  CHECK_FALSE(prepare_target({TargetKind::xid, "7", "", "resume", false}, info));

  auto lsn = prepare_target({TargetKind::lsn, "0/3000100", "2", "promote", true}, info);
  REQUIRE(lsn);
  const std::vector<RecoverySetting> want{{"recovery_target_lsn", "0/3000100"},
                                          {"recovery_target_inclusive", "off"},
                                          {"recovery_target_timeline", "2"},
                                          {"recovery_target_action", "promote"}};
  CHECK(lsn->settings == want);
  CHECK(*lsn->tli == 2);
  auto latest = prepare_target({}, info);
  REQUIRE(latest);
  const std::vector<RecoverySetting> only_timeline{{"recovery_target_timeline", "latest"}};
  CHECK(latest->settings == only_timeline);
  auto immediate = prepare_target({TargetKind::immediate, "", "", "", false}, info);
  REQUIRE(immediate);
  CHECK(immediate->immediate);
  CHECK(immediate->settings.front() == RecoverySetting{"recovery_target", "immediate"});
}

TEST_CASE("recovery configuration comments out what it replaces and keeps the originals", "[recover]") {
  TempDir dir;
  write_text(dir / "postgresql.conf",
             "port = 5432\narchive_command = 'cp %p /x'\n#archive_command = ''\ninclude 'x.conf'\n");
  write_text(dir / "postgresql.auto.conf", "recovery_target_xid = '3'\nwork_mem = '8MB'\n");
  RecoveryConfig c{
      "# cellar", "cp '/d/cellar_wal/%f' %p", "rm -rf /d/cellar_wal", {{"recovery_target_name", "it's"}}, false};
  auto warnings = write_recovery_config(dir.path(), c);
  REQUIRE(warnings);
  REQUIRE(warnings->size() == 1);
  CHECK(warnings->front().find("postgresql.conf line 4") == 0);
  CHECK(read_text(dir / "postgresql.conf") ==
        "port = 5432\n#CELLAR# archive_command = 'cp %p /x'\n#archive_command = ''\ninclude 'x.conf'\n");
  CHECK(read_text(dir / "postgresql.conf.origin").find("\narchive_command") != std::string::npos);
  CHECK(read_text(dir / "postgresql.auto.conf.origin") == "recovery_target_xid = '3'\nwork_mem = '8MB'\n");
  CHECK(read_text(dir / "postgresql.auto.conf") ==
        "#CELLAR# recovery_target_xid = '3'\nwork_mem = '8MB'\n# cellar\n"
        "restore_command = 'cp ''/d/cellar_wal/%f'' %p'\nrecovery_end_command = 'rm -rf /d/cellar_wal'\n"
        "archive_command = 'false'\nrecovery_target_name = 'it''s'\n");
  CHECK(path_exists(dir / "recovery.signal"));
  CHECK_FALSE(path_exists(dir / "standby.signal"));
}

TEST_CASE("shell quoting leaves safe words alone and quotes the rest", "[recover]") {
  CHECK(shell_quote("/var/lib/cellar/cellar_wal/%f") == "/var/lib/cellar/cellar_wal/%f");
  CHECK(shell_quote("/my dir/x") == "'/my dir/x'");
  CHECK(shell_quote("it's") == "'it'\\''s'");
  CHECK(pg_quote("a'b") == "'a''b'");
}

TEST_CASE("tablespace relocation rules need a name and an absolute location", "[recover]") {
  auto ok = parse_relocation("tbs1:/srv/tbs1");
  REQUIRE(ok);
  CHECK(ok->name == "tbs1");
  CHECK(ok->location == "/srv/tbs1");
  for (const char* bad : {"tbs1", ":/x", "tbs1:", "tbs1:relative"}) CHECK_FALSE(parse_relocation(bad));
}

TEST_CASE("a destination found absent is put back by removing it with the parents created for it", "[recover]") {
  TempDir tmp;
  std::string dest = tmp / "a/b/dest";
  auto found = inspect_destinations({dest});
  REQUIRE(found);
  CHECK(found->at(0).created == tmp / "a");
  REQUIRE(make_dirs(dest + "/base/1"));
  write_text(dest + "/base/1/1234", "restored");
  Status st = put_back(*found, Status::failed("could not write"));
  CHECK(st.code() == ErrorCode::failed);
  CHECK(st.message() == "could not write");
  CHECK(st.detail() == "\"" + dest + "\" was left as it was found");
  CHECK(list_dir(tmp.path())->empty());
}

TEST_CASE("a destination found empty is emptied, keeps its mode, and symlinks in it are not followed", "[recover]") {
  TempDir tmp;
  std::string dest = tmp / "dest";
  std::string tbs = tmp / "tbs";
  REQUIRE(make_dirs(dest));
  REQUIRE(::chmod(dest.c_str(), 0750) == 0);
  auto found = inspect_destinations({dest, tbs});
  REQUIRE(found);
  CHECK(found->at(0).created.empty());
  REQUIRE(::chmod(dest.c_str(), 0700) == 0);
  REQUIRE(make_dirs(dest + "/pg_tblspc"));
  REQUIRE(make_dirs(tbs));
  write_text(tbs + "/PG_15", "a tablespace file");
  write_text(dest + "/PG_VERSION", "15\n");
  TempDir elsewhere;  // a link out of DEST: its target is not recover's to remove
  write_text(elsewhere / "keep", "keep");
  REQUIRE(::symlink(elsewhere.path().c_str(), (dest + "/pg_tblspc/16384").c_str()) == 0);
  Status st = put_back(*found, Status::failed("could not write").with_detail("disk full"));
  CHECK(st.detail() == "disk full; \"" + dest + "\" and \"" + tbs + "\" were left as they were found");
  CHECK(list_dir(dest)->empty());
  CHECK_FALSE(path_exists(tbs));
  struct stat sb {};
  REQUIRE(::stat(dest.c_str(), &sb) == 0);
  CHECK((sb.st_mode & 0777) == 0750);
  CHECK(read_text(elsewhere / "keep") == "keep");
}

TEST_CASE("a destination that cannot be put back is named in the detail, with the reason and a hint", "[recover]") {
  TempDir tmp;
  std::string dest = tmp / "dest";
  auto found = inspect_destinations({dest});
  REQUIRE(found);
  REQUIRE(make_dirs(dest + "/global"));
  std::string stuck = dest + "/global/pg_control";
  write_text(stuck, "restored");
  // Root may remove anything but an immutable file; anyone else no entry of
  // a read-only directory.
  bool root = ::geteuid() == 0;
  std::string why = root ? "Operation not permitted" : "Permission denied";
  if (root) REQUIRE(run_program({"chattr", "+i", stuck}).exit_code == 0);
  if (!root) REQUIRE(::chmod((dest + "/global").c_str(), 0555) == 0);
  Status st = put_back(*found, Status::failed("could not write"));
  if (root) run_program({"chattr", "-i", stuck});
  if (!root) ::chmod((dest + "/global").c_str(), 0755);
  CHECK(st.message() == "could not write");
  CHECK(st.detail() ==
        "\"" + dest + "\" could not be put back as it was found: could not remove \"" + dest + "\": " + why);
  CHECK(st.hint() == "remove what recover wrote there before trying again");
  CHECK(path_exists(stuck));
}

TEST_CASE("small_jobs adds threads that copy the small files, and every file arrives once and whole", "[recover]") {
  TempDir tmp;
  REQUIRE(make_dirs(tmp / "src"));
  RestorePlan plan;
  plan.dirs.push_back(tmp / "dest");
  std::vector<std::string> contents;
  for (int i = 0; i < 120; ++i) {
    // Every tenth file is large (over kSmallFileSize), the rest small.
    std::string body = i % 10 == 0 ? std::string(kSmallFileSize + 1 + i, static_cast<char>('a' + i % 26))
                                   : "file " + std::to_string(i) + "\n";
    std::string src = tmp / ("src/f" + std::to_string(i));
    write_text(src, body);
    contents.push_back(body);
    plan.files.push_back({src, tmp / ("dest/f" + std::to_string(i)), codec::Codec::none, body.size(), {}});
  }
  auto copy_with = [&](unsigned small_jobs) {
    std::set<std::thread::id> threads;
    auto stats = execute_plan(
        plan, 1,
        [&](uint64_t) {
          threads.insert(std::this_thread::get_id());
          std::this_thread::sleep_for(std::chrono::milliseconds(1));  // others take files meanwhile
        },
        small_jobs);
    REQUIRE(stats);
    CHECK(stats->files == plan.files.size());
    for (size_t i = 0; i < plan.files.size(); ++i) CHECK(read_text(plan.files[i].dest) == contents[i]);
    return threads.size();
  };
  CHECK(copy_with(0) == 1);
  for (const auto& f : plan.files) REQUIRE(::unlink(f.dest.c_str()) == 0);
  CHECK(copy_with(3) > 1);
}
