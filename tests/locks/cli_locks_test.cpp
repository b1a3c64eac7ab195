// End to end: the real `cellar lock` and `cellar locks`, and a lock directory
// made by Barman (its own barman.lockfile when installed, else the same
// system calls from python3).
#include <signal.h>

#include <catch2/catch.hpp>
#include <map>

#include "common/fs.h"
#include "common/json.h"
#include "locks/lock_file.h"
#include "support/helper_mode.h"
#include "support/run.h"

using namespace cellar;
using cellar::test::run_cellar;
using cellar::test::spawn_helper;
using cellar::test::TempDir;

namespace {

std::vector<std::string> lock_args(const TempDir& dir, std::vector<std::string> words) {
  std::vector<std::string> args{"lock"};
  args.insert(args.end(), words.begin(), words.end());
  auto dash = std::find(args.begin(), args.end(), "--");
  args.insert(dash, {"--lock-directory", dir.path()});
  return args;
}

Json locks_json(const std::vector<std::string>& extra) {
  std::vector<std::string> args{"--format", "json", "locks"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto run = run_cellar(args);
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  auto doc = Json::parse(run.out);
  REQUIRE(doc);
  REQUIRE(doc->is_array());
  return *doc;
}

std::map<std::string, Json> by_file(const Json& doc) {
  std::map<std::string, Json> out;
  for (const auto& e : doc.as_array()) out[e.find("file")->as_string()] = e;
  return out;
}

std::string str_or_null(const Json& e, const char* key) {
  const Json* v = e.find(key);
  return v && v->is_string() ? v->as_string() : "null";
}

}  // namespace

TEST_CASE("cellar lock runs the command holding the lock and exits with its status", "[locks]") {
  TempDir dir;
  auto run = run_cellar(lock_args(
      dir, {"backup", "main", "--", CELLAR_BINARY, "-f", "json", "locks", "main", "--lock-directory", dir.path()}));
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  auto doc = Json::parse(run.out);
  REQUIRE(doc);
  REQUIRE(doc->as_array().size() == 1);
  const Json& e = doc->as_array()[0];
  CHECK(str_or_null(e, "state") == "held");
  CHECK_THAT(str_or_null(e, "command"), Catch::StartsWith(std::string(CELLAR_BINARY) + " lock backup main"));

  CHECK(run_cellar(lock_args(dir, {"backup", "main", "--", "sh", "-c", "exit 7"})).exit_code == 7);
  CHECK(run_cellar(lock_args(dir, {"global-cron", "--", "true"})).exit_code == 0);
  CHECK(run_cellar(lock_args(dir, {"backup-id", "main", "20240101T000000", "--", "true"})).exit_code == 0);
  CHECK(run_cellar(lock_args(dir, {"backup", "main", "--", "sh", "-c", "kill -KILL $$"})).exit_code == 128 + 9);
  CHECK_FALSE(locks::LockFile(dir / ".main-backup.lock").owner_pid());
}

TEST_CASE("cellar lock exits 3 when the lock is busy, naming the holder's PID", "[locks]") {
  TempDir dir;
  auto holder = spawn_helper("lock-hold", {dir / ".main-backup.lock"});
  std::string pid = holder.read_line().substr(7);
  auto run = run_cellar(lock_args(dir, {"backup", "main", "--", "true"}));
  CHECK(run.exit_code == 3);
  CHECK_THAT(run.err, Catch::StartsWith("ERROR: another backup is running for server 'main' (lock .main-backup.lock "
                                        "held by PID " +
                                        pid + ": "));
}

TEST_CASE("cellar lock --wait --timeout exits 1 when the lock stays busy", "[locks]") {
  TempDir dir;
  auto holder = spawn_helper("lock-hold", {dir / ".main-sync-wal.lock"});
  holder.read_line();
  auto run = run_cellar(lock_args(dir, {"sync-wal", "main", "--wait", "--timeout", "0.2", "--", "true"}));
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.err, Catch::Contains("timed out") && Catch::Contains("PID " + std::to_string(holder.pid())));
}

TEST_CASE("cellar lock forwards SIGTERM to the command and frees the lock", "[locks]") {
  TempDir dir;
  auto cellar = test::spawn({CELLAR_BINARY, "lock", "receive-wal", "main", "--lock-directory", dir.path(), "--",
                             test::self_exe(), "--helper", "block"});
  std::string ready = cellar.read_line();  // the command prints on cellar's stdout
  REQUIRE(ready.rfind("ready ", 0) == 0);
  CHECK(locks::LockFile(dir / ".main-receive-wal.lock").owner_pid() == cellar.pid());
  cellar.kill(SIGTERM);
  CHECK(cellar.wait() == 128 + SIGTERM);
  CHECK_FALSE(locks::LockFile(dir / ".main-receive-wal.lock").owner_pid());
}

TEST_CASE("cellar lock reports a command that cannot be run and misuse of its words", "[locks]") {
  TempDir dir;
  auto missing = run_cellar(lock_args(dir, {"backup", "main", "--", "/nonexistent/cmd"}));
  CHECK(missing.exit_code == 127);
  CHECK_THAT(missing.err, Catch::Contains("cannot run \"/nonexistent/cmd\""));
  CHECK(run_cellar(lock_args(dir, {"global-cron", "main", "--", "true"})).exit_code == 2);
  CHECK(run_cellar(lock_args(dir, {"backup", "--", "true"})).exit_code == 2);
  CHECK(run_cellar(lock_args(dir, {"backup-id", "main", "--", "true"})).exit_code == 2);
  CHECK(run_cellar(lock_args(dir, {"bogus", "main", "--", "true"})).exit_code == 2);
  CHECK(run_cellar(lock_args(dir, {"backup", "../x", "--", "true"})).exit_code == 2);
  CHECK(run_cellar({"lock", "backup", "main", "--lock-directory", dir.path()}).exit_code == 2);
  CHECK(run_cellar({"lock", "--help"}).exit_code == 0);
  CHECK(run_cellar({"locks", "--help"}).exit_code == 0);
  CHECK(run_cellar({"locks", "--bogus"}).exit_code == 2);
  CHECK(run_cellar({"locks", "all", "--lock-directory", dir.path()}).exit_code == 2);
}

TEST_CASE("cellar locks SERVER lists exactly that server's locks", "[locks]") {
  TempDir dir;
  for (const char* f : {".main-backup.lock", ".main-2-backup.lock", ".main-2-receive-wal.lock", ".cron.lock"})
    test::write_text(dir / f, "");
  auto main = by_file(locks_json({"main", "--lock-directory", dir.path()}));
  CHECK(main.size() == 1);
  CHECK(main.count(".main-backup.lock"));
  auto main2 = by_file(locks_json({"main-2", "--lock-directory", dir.path()}));
  CHECK(main2.size() == 2);
  CHECK(by_file(locks_json({"--lock-directory", dir.path()})).size() == 4);

  auto text = run_cellar({"locks", "--lock-directory", dir.path()});
  CHECK(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::StartsWith("FILE") && Catch::Contains(".main-2-receive-wal.lock"));
}

TEST_CASE("cellar locks --clean removes free lock files and keeps held ones", "[locks]") {
  TempDir dir;
  test::write_text(dir / ".main-backup.lock", "1\n");
  test::write_text(dir / ".junk.lock", "");
  auto holder = spawn_helper("lock-hold", {dir / ".main-cron.lock"});
  holder.read_line();
  auto run = run_cellar({"locks", "--clean", "--lock-directory", dir.path()});
  CHECK(run.exit_code == 0);
  CHECK_THAT(run.out, Catch::Contains("removed \"" + dir.path() + "/.main-backup.lock\""));
  CHECK_FALSE(path_exists(dir / ".main-backup.lock"));
  CHECK(path_exists(dir / ".main-cron.lock"));
  CHECK(path_exists(dir / ".junk.lock"));  // not a lock kind: only with --all
  CHECK(run_cellar({"locks", "--clean", "--all", "--lock-directory", dir.path()}).exit_code == 0);
  CHECK_FALSE(path_exists(dir / ".junk.lock"));
}

TEST_CASE("cellar locks reads a lock directory made by Barman", "[locks]") {
  bool have_barman = test::run_program({"/usr/bin/python3", "-c", "import barman.lockfile"}).exit_code == 0;
  // Barman's own classes when installed; else the same calls barman.lockfile makes.
  const std::string with_barman = R"(
import sys
from barman.lockfile import *
d = sys.argv[1]
held = [ServerBackupLock(d, "main"), ServerWalReceiveLock(d, "main-2"), GlobalCronLock(d),
        ServerBackupSyncLock(d, "my-srv", "20240101T000000"), ServerXLOGDBLock(d, "main")]
for l in held: l.acquire()
for l in [ServerCronLock(d, "main"), ServerBackupIdLock(d, "main", "20240101T000000"), ServerWalSyncLock(d, "main")]:
    l.acquire(); l.release()
print("ready", flush=True)
sys.stdin.read()
)";
  const std::string raw = R"(
import fcntl, os, sys
d = sys.argv[1]
def lock(name, hold):
    fd = os.open(os.path.join(d, name), os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.lseek(fd, 0, 0); os.write(fd, ("%s\n" % os.getpid()).encode()); os.ftruncate(fd, os.lseek(fd, 0, 1))
    if not hold: fcntl.flock(fd, fcntl.LOCK_UN); os.close(fd)
    return fd
held = [lock(n, True) for n in [".main-backup.lock", ".main-2-receive-wal.lock", ".cron.lock",
        ".my-srv-20240101T000000-sync-backup.lock", ".main-xlogdb.lock"]]
for n in [".main-cron.lock", ".main-20240101T000000.lock", ".main-sync-wal.lock"]: lock(n, False)
print("ready", flush=True)
sys.stdin.read()
)";
  for (bool barman : {false, true}) {
    if (barman && !have_barman) {
      WARN("barman is not installed: checked against the raw system calls only");
      continue;
    }
    TempDir dir;
    auto python = test::spawn({"/usr/bin/python3", "-c", barman ? with_barman : raw, dir.path()});
    REQUIRE(python.read_line() == "ready");
    auto entries = by_file(locks_json({"--lock-directory", dir.path()}));
    REQUIRE(entries.size() == 8);
    struct Want {
      const char *file, *kind, *server, *backup_id, *state;
    };
    for (const Want& w : std::vector<Want>{
             {".main-backup.lock", "backup", "main", "null", "held"},
             {".main-2-receive-wal.lock", "receive-wal", "main-2", "null", "held"},
             {".cron.lock", "global-cron", "null", "null", "held"},
             {".my-srv-20240101T000000-sync-backup.lock", "sync-backup", "my-srv", "20240101T000000", "held"},
             {".main-xlogdb.lock", "xlogdb", "main", "null", "held"},
             {".main-cron.lock", "cron", "main", "null", "free"},
             {".main-20240101T000000.lock", "backup-id", "main", "20240101T000000", "free"},
             {".main-sync-wal.lock", "sync-wal", "main", "null", "free"}}) {
      INFO((barman ? "barman: " : "raw: ") << w.file);
      REQUIRE(entries.count(w.file));
      const Json& e = entries[w.file];
      CHECK(str_or_null(e, "kind") == w.kind);
      CHECK(str_or_null(e, "server") == w.server);
      CHECK(str_or_null(e, "backup_id") == w.backup_id);
      CHECK(str_or_null(e, "state") == w.state);
      CHECK(e.find("pid_in_file")->as_int() == python.pid());
      if (std::string(w.state) == "held")
        CHECK(e.find("pid")->as_int() == python.pid());
      else
        CHECK(e.find("pid")->is_null());
    }
  }
}
