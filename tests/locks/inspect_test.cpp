// Inspection of a lock directory: kernel-reported holders, exact server
// filtering, odd file content, and --clean's race-free removal.
#include "locks/inspect.h"

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "common/fs.h"
#include "locks/lock_file.h"
#include "support/helper_mode.h"
#include "support/run.h"

using namespace cellar;
using namespace cellar::locks;
using cellar::test::spawn_helper;
using cellar::test::TempDir;

namespace {

const LockEntry* find(const std::vector<LockEntry>& entries, const std::string& file) {
  for (const auto& e : entries)
    if (e.file == file) return &e;
  return nullptr;
}

std::vector<LockEntry> scan(const std::string& dir, ScanOptions options = {}) {
  auto r = scan_locks(dir, options);
  REQUIRE(r);
  return *r;
}

ScanOptions options(const std::string& server, bool stale_only, bool all) {
  ScanOptions o;
  o.server = server;
  o.stale_only = stale_only;
  o.all = all;
  return o;
}

}  // namespace

TEST_CASE("inspection reports the kernel's holder, the file's PID and the command line", "[locks]") {
  TempDir dir;
  auto holder = spawn_helper("lock-hold", {dir / ".main-20240101T000000.lock"});
  std::string pid = holder.read_line().substr(7);
  test::write_text(dir / ".main-backup.lock", "12345\n");  // an old holder's PID, now free

  auto entries = scan(dir.path());
  REQUIRE(entries.size() == 2);
  const LockEntry* held = find(entries, ".main-20240101T000000.lock");
  REQUIRE(held);
  CHECK(held->kind() == "backup-id");
  CHECK(held->server() == "main");
  CHECK(held->backup_id() == "20240101T000000");
  CHECK(held->held);
  CHECK(held->pid == std::stoi(pid));
  CHECK(held->pid_in_file == std::stoi(pid));
  CHECK(held->command == test::self_exe() + " --helper lock-hold " + dir.path() + "/.main-20240101T000000.lock");
  const LockEntry* free = find(entries, ".main-backup.lock");
  REQUIRE(free);
  CHECK_FALSE(free->held);
  CHECK_FALSE(free->pid);
  CHECK(free->pid_in_file == 12345);
  CHECK(free->command.empty());

  auto stale = scan(dir.path(), options("", true, false));
  REQUIRE(stale.size() == 1);
  CHECK(stale[0].file == ".main-backup.lock");
}

TEST_CASE("inspection never takes a lock, so a concurrent acquirer is never refused", "[locks]") {
  TempDir dir;
  test::write_text(dir / ".main-backup.lock", "1\n");
  LockFile lock(dir / ".main-backup.lock");
  REQUIRE(*lock.acquire());
  for (int i = 0; i < 50; ++i) CHECK(scan(dir.path()).at(0).held);
  lock.release();
  for (int i = 0; i < 50; ++i) {
    scan(dir.path());
    LockFile again(dir / ".main-backup.lock", false);
    CHECK(*again.acquire());
  }
}

TEST_CASE("filtering by server is exact: main-2's locks never show under main", "[locks]") {
  TempDir dir;
  for (const char* f : {".main-backup.lock", ".main-2-backup.lock", ".main-2-cron.lock", ".main-20240101T000000.lock",
                        ".main-2-20240101T000000-sync-backup.lock", ".main.x-cron.lock", ".cron.lock"})
    test::write_text(dir / f, "");
  auto main = scan(dir.path(), options("main", false, false));
  std::vector<std::string> files;
  for (const auto& e : main) files.push_back(e.file);
  CHECK(files == std::vector<std::string>{".main-20240101T000000.lock", ".main-backup.lock"});
  auto main2 = scan(dir.path(), options("main-2", false, true));
  CHECK(main2.size() == 3);
  for (const auto& e : main2) CHECK(e.server() == "main-2");
}

TEST_CASE("files that match no kind are listed only with all", "[locks]") {
  TempDir dir;
  for (const char* f : {".main-backup.lock", ".weird.lock", ".main-backup.lock.old", "notes.txt", ".x-nope.lock"})
    test::write_text(dir / f, "");
  REQUIRE(make_dirs(dir / ".dir.lock").is_ok());
  CHECK(scan(dir.path()).size() == 1);
  auto all = scan(dir.path(), options("", false, true));
  REQUIRE(all.size() == 3);
  CHECK(find(all, ".weird.lock")->kind() == "unknown");
  CHECK(find(all, ".x-nope.lock")->kind() == "unknown");
}

TEST_CASE("garbage or empty lock content never crashes inspection", "[locks]") {
  TempDir dir;
  const std::vector<std::pair<std::string, std::string>> contents = {
      {"empty", ""},          {"text", "garbage"},     {"nul", std::string("\0\0\0", 3)},
      {"partial", "12abc\n"}, {"negative", "-5\n"},    {"huge", "99999999999999999999999\n"},
      {"spaces", "  42  \n"}, {"newline", "\n"},       {"binary", std::string(5000, '\xff')},
      {"zero", "0\n"},        {"twolines", "77\n88\n"}};
  std::vector<test::Child> holders;
  for (const auto& [name, content] : contents) {
    for (const char* state : {"free", "held"}) {
      std::string path = dir / ("." + name + "-" + state + "-cron.lock");
      test::write_text(path, content);
      if (std::string(state) == "held") {
        holders.push_back(spawn_helper("lock-hold", {path, "nopid"}));
        REQUIRE(holders.back().read_line().rfind("locked", 0) == 0);
      }
    }
  }
  auto entries = scan(dir.path());
  REQUIRE(entries.size() == contents.size() * 2);
  for (const auto& e : entries) {
    INFO(e.file);
    CHECK(e.held == (e.file.find("-held-") != std::string::npos));
    if (e.held) CHECK(e.pid > 0);
    CHECK(e.content.size() <= 64);
  }
  CHECK(find(entries, ".twolines-free-cron.lock")->pid_in_file == 77);
  CHECK_FALSE(find(entries, ".text-free-cron.lock")->pid_in_file);
  CHECK(find(entries, ".text-free-cron.lock")->content == "garbage");
  CHECK_FALSE(find(entries, ".empty-held-cron.lock")->pid_in_file);
  CHECK_FALSE(find(entries, ".negative-free-cron.lock")->pid_in_file);
  CHECK_FALSE(find(entries, ".huge-free-cron.lock")->pid_in_file);
  CHECK_FALSE(find(entries, ".zero-free-cron.lock")->pid_in_file);
}

TEST_CASE("clean removes free lock files and never a held one", "[locks]") {
  TempDir dir;
  test::write_text(dir / ".main-backup.lock", "1\n");
  test::write_text(dir / ".main-cron.lock", "1\n");
  auto holder = spawn_helper("lock-hold", {dir / ".main-cron.lock"});
  REQUIRE(holder.read_line().rfind("locked", 0) == 0);
  LockFile own(dir / ".main-xlogdb.lock");  // held by this process, through another fd
  REQUIRE(*own.acquire());

  // Even when told to clean entries it believes free, a held file survives.
  auto entries = scan(dir.path());
  for (auto& e : entries) e.held = false;
  auto results = clean_locks(dir.path(), entries);
  REQUIRE(results.size() == 3);
  for (const auto& r : results)
    CHECK(r.outcome == (r.file == ".main-backup.lock" ? CleanOutcome::removed : CleanOutcome::held));
  CHECK_FALSE(path_exists(dir / ".main-backup.lock"));
  CHECK(path_exists(dir / ".main-cron.lock"));
  CHECK(path_exists(dir / ".main-xlogdb.lock"));
  CHECK(remove_if_free(dir.path(), ".gone.lock").outcome == CleanOutcome::gone);
}

TEST_CASE("clean never removes a held file while another process acquires and releases in a loop", "[locks]") {
  TempDir dir;
  std::string file = ".main-archive-wal.lock";
  auto looper = spawn_helper("lock-loop", {dir / file, "3000"});
  REQUIRE(looper.read_line() == "started");
  // The looper checks, while holding, that the kernel names it the holder of
  // the path: a file removed under it would fail that check.
  int removed = 0;
  std::string line;
  while (true) {
    auto r = remove_if_free(dir.path(), file);
    REQUIRE(r.outcome != CleanOutcome::failed);
    removed += r.outcome == CleanOutcome::removed;
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(looper.pid()), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid != 0)
      break;
  }
  line = looper.read_line();
  INFO("files removed meanwhile: " << removed << "; looper: " << line);
  CHECK_THAT(line, Catch::StartsWith("done 0 "));
  CHECK(looper.wait() == 0);
}
