// LockFile and the typed locks, across processes: the holder is another
// process (this binary re-executed in a helper mode), synchronised through
// its stdin/stdout pipes.
#include "locks/lock_file.h"

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>

#include "common/fs.h"
#include "lock_helpers.h"
#include "locks/kernel_locks.h"
#include "locks/lock_backend.h"
#include "locks/typed_lock.h"
#include "support/helper_mode.h"
#include "support/run.h"

using namespace cellar;
using namespace cellar::locks;
using cellar::test::spawn_helper;
using cellar::test::TempDir;

namespace {

std::string expect_prefix(const std::string& line, const std::string& prefix) {
  REQUIRE(line.rfind(prefix, 0) == 0);
  return line.substr(prefix.size());
}

AcquireOptions raising(bool raise) {
  AcquireOptions o;
  o.raise_if_fail = raise;
  return o;
}

AcquireOptions waiting_for(std::chrono::milliseconds timeout) {
  AcquireOptions o;
  o.wait = true;
  o.timeout = timeout;
  return o;
}

AcquireOptions without_pid() {
  AcquireOptions o;
  o.update_pid = false;
  return o;
}

}  // namespace

TEST_CASE("a held lock file contains the holder's PID and stays after release", "[locks]") {
  TempDir dir;
  std::string path = dir / ".main-backup.lock";
  {
    LockFile lock(path);
    REQUIRE(*lock.acquire());
    CHECK(lock.held());
    CHECK(test::read_text(path) == std::to_string(::getpid()) + "\n");
    struct stat sb {};
    REQUIRE(::stat(path.c_str(), &sb) == 0);
    CHECK((sb.st_mode & 0777) == 0600);
    CHECK(lock.owner_pid() == ::getpid());
    CHECK(*lock.acquire());  // already held: true, not a self-conflict
  }
  CHECK(path_exists(path));
  CHECK_FALSE(LockFile(path).owner_pid());
}

TEST_CASE("a second acquirer is told the lock is busy, with the holder's PID", "[locks]") {
  TempDir dir;
  std::string path = dir / ".main-backup.lock";
  auto holder = spawn_helper("lock-hold", {path});
  std::string pid = expect_prefix(holder.read_line(), "locked ");

  LockFile lock(path);
  auto got = lock.acquire();
  REQUIRE_FALSE(got);
  CHECK(got.status().code() == ErrorCode::busy);
  CHECK_THAT(got.status().message(), Catch::Contains("\"" + path + "\"") && Catch::Contains("PID " + pid));
  CHECK_FALSE(*lock.acquire(raising(false)));
  CHECK(lock.owner_pid() == std::stoi(pid));
  CHECK(test::read_text(path) == pid + "\n");  // the failed attempts did not rewrite it
}

TEST_CASE("a busy typed lock names the lock, the holder's PID and its command line", "[locks]") {
  TempDir dir;
  auto holder = spawn_helper("lock-hold", {dir / ".main-backup.lock"});
  std::string pid = expect_prefix(holder.read_line(), "locked ");
  auto got = acquire_default(file_lock_manager(dir.path()), LockName{LockKind::backup, "main", ""});
  REQUIRE_FALSE(got);
  CHECK(got.status().code() == ErrorCode::busy);
  CHECK(got.status().message() == "another backup is running for server 'main' (lock .main-backup.lock held by PID " +
                                      pid + ": " + test::self_exe() + " --helper lock-hold " + dir.path() +
                                      "/.main-backup.lock)");
}

TEST_CASE("SIGKILL of the holder frees the lock at once", "[locks]") {
  TempDir dir;
  std::string path = dir / ".main-receive-wal.lock";
  auto holder = spawn_helper("lock-hold", {path});
  expect_prefix(holder.read_line(), "locked ");
  REQUIRE(LockFile(path).owner_pid() == holder.pid());
  holder.kill(SIGKILL);
  CHECK(holder.wait() == 128 + SIGKILL);
  CHECK_FALSE(LockFile(path).owner_pid());
  LockFile lock(path);
  CHECK(*lock.acquire());
}

TEST_CASE("waiting blocks until the holder releases", "[locks]") {
  TempDir dir;
  std::string path = dir / ".main-xlogdb.lock";
  auto holder = spawn_helper("lock-hold", {path});
  expect_prefix(holder.read_line(), "locked ");
  auto waiter = spawn_helper("lock-wait", {path});
  expect_prefix(waiter.read_line(), "waiting ");
  REQUIRE(test::wait_for_blocked_waiter(path));  // the kernel has it queued behind the holder
  holder.write_line("release");
  CHECK(holder.read_line() == "released");
  CHECK(waiter.read_line() == "acquired");
  CHECK(LockFile(path).owner_pid() == waiter.pid());
}

TEST_CASE("waiting with a timeout gives up with a busy error", "[locks]") {
  TempDir dir;
  std::string path = dir / ".main-sync-wal.lock";
  auto holder = spawn_helper("lock-hold", {path});
  std::string pid = expect_prefix(holder.read_line(), "locked ");
  LockFile lock(path);
  auto start = std::chrono::steady_clock::now();
  auto got = lock.acquire(waiting_for(std::chrono::milliseconds(200)));
  auto waited = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(got);
  CHECK(got.status().code() == ErrorCode::busy);
  CHECK_THAT(got.status().message(), Catch::Contains("PID " + pid));
  CHECK(waited >= std::chrono::milliseconds(200));
  CHECK(waited < std::chrono::seconds(5));
}

TEST_CASE("waiting with a timeout takes the lock once it is released", "[locks]") {
  TempDir dir;
  std::string path = dir / ".main-sync-wal.lock";
  auto holder = spawn_helper("lock-hold", {path});
  expect_prefix(holder.read_line(), "locked ");
  auto waiter = spawn_helper("lock-wait", {path, "60000"});
  expect_prefix(waiter.read_line(), "waiting ");
  holder.write_line("release");
  CHECK(holder.read_line() == "released");
  CHECK(waiter.read_line() == "acquired");
}

TEST_CASE("an exec'd program does not keep its parent's lock", "[locks]") {
  TempDir dir;
  std::string path = dir / ".main-backup.lock";
  auto child = spawn_helper("lock-exec", {path});
  // Same process, new program: the lock fd was O_CLOEXEC, so the lock is gone.
  CHECK(child.read_line() == "ready " + std::to_string(child.pid()));
  CHECK_FALSE(LockFile(path).owner_pid());
  LockFile lock(path);
  CHECK(*lock.acquire());
}

TEST_CASE("two lock objects on one path conflict inside one process", "[locks]") {
  TempDir dir;
  std::string path = dir / ".main-cron.lock";
  LockFile first(path), second(path, false);
  REQUIRE(*first.acquire());
  CHECK_FALSE(*second.acquire());
  auto raised = second.acquire(raising(true));
  REQUIRE_FALSE(raised);
  CHECK(raised.status().code() == ErrorCode::busy);
  CHECK_THAT(raised.status().message(), Catch::Contains("PID " + std::to_string(::getpid())));
  first.release();
  CHECK(*second.acquire());
}

TEST_CASE("a moved lock is still held, and release frees it", "[locks]") {
  TempDir dir;
  std::string path = dir / ".main-cron.lock";
  LockFile a(path);
  REQUIRE(*a.acquire());
  LockFile b = std::move(a);
  CHECK(b.held());
  CHECK(LockFile(path).owner_pid() == ::getpid());
  b.release();
  CHECK_FALSE(LockFile(path).owner_pid());
}

TEST_CASE("acquire without update_pid leaves the content alone", "[locks]") {
  TempDir dir;
  std::string path = dir / ".main-cron.lock";
  test::write_text(path, "0\n");
  LockFile lock(path);
  REQUIRE(*lock.acquire(without_pid()));
  CHECK(test::read_text(path) == "0\n");
}

TEST_CASE("a missing lock directory is an error naming the path", "[locks]") {
  TempDir dir;
  LockFile lock(dir / "nodir/.main-backup.lock");
  auto got = lock.acquire();
  REQUIRE_FALSE(got);
  CHECK(got.status().code() == ErrorCode::failed);
  CHECK_THAT(got.status().message(), Catch::Contains(dir / "nodir/.main-backup.lock"));
}

TEST_CASE("an unprivileged user who cannot open the lock file gets the permission error", "[locks]") {
  if (::geteuid() != 0 || !::getpwnam("postgres")) {
    WARN("needs root and a postgres account; skipped");
    return;
  }
  TempDir dir;
  REQUIRE(::chmod(dir.path().c_str(), 0711) == 0);  // traversable, not writable
  std::string path = dir / ".main-backup.lock";
  test::write_text(path, "1\n");
  REQUIRE(::chmod(path.c_str(), 0600) == 0);  // root-owned
  auto child = spawn_helper("unprivileged-acquire", {path, "postgres"});
  std::string line = child.read_line();
  CHECK(child.wait() == 0);
  CHECK_THAT(line, Catch::StartsWith("error 1 permission denied on lock file \"" + path + "\""));
  CHECK_THAT(line, Catch::Contains("| run cellar as the user that owns the lock directory"));
}

TEST_CASE("typed locks apply their kind's wait policy", "[locks]") {
  TempDir dir;
  auto backup = ServerBackupLock::acquire(locks::file_lock_manager(dir.path()), "main");
  REQUIRE(backup);
  CHECK(backup->held().name() == LockName{LockKind::backup, "main", ""});
  CHECK(LockFile(dir / ".main-backup.lock").owner_pid() == ::getpid());
  CHECK_FALSE(ServerBackupLock::acquire(locks::file_lock_manager(dir.path()), "main"));
  auto id = BackupIdLock::acquire(locks::file_lock_manager(dir.path()), "main", "20240101T000000");
  REQUIRE(id);
  CHECK(LockFile(dir / ".main-20240101T000000.lock").owner_pid() == ::getpid());
  auto bad = BackupIdLock::acquire(locks::file_lock_manager(dir.path()), "main", "../../x");
  REQUIRE_FALSE(bad);
  CHECK(bad.status().code() == ErrorCode::usage);
  CHECK_FALSE(ServerBackupLock::acquire(locks::file_lock_manager(dir.path()), "../etc"));
}

TEST_CASE("a waiting typed lock gets the lock once the holder releases", "[locks]") {
  TempDir dir;
  std::string path = dir / ".main-xlogdb.lock";
  auto holder = spawn_helper("lock-hold", {path});
  expect_prefix(holder.read_line(), "locked ");
  holder.write_line("release");
  CHECK(holder.read_line() == "released");
  auto lock = XlogdbLock::acquire(locks::file_lock_manager(dir.path()), "main");
  CHECK(lock);
}

TEST_CASE("the kernel lock table is parsed with hex device numbers and without waiters", "[locks]") {
  auto table = KernelLockTable::parse(
      "1: POSIX  ADVISORY  WRITE 100 08:01:55 0 EOF\n"
      "2: FLOCK  ADVISORY  WRITE 4711 fd:1a:1234567 0 EOF\n"
      "2: -> FLOCK  ADVISORY  WRITE 4712 fd:1a:1234567 0 EOF\n"
      "3: FLOCK  ADVISORY  WRITE 0 00:2f:99 0 EOF\n"
      "4: OFDLCK ADVISORY  READ  -1 08:01:77 0 EOF\n"
      "garbage line\n");
  CHECK(table.size() == 2);
  auto held = table.holder(FileId{makedev(0xfd, 0x1a), 1234567});
  REQUIRE(held);
  CHECK(held->pid == 4711);
  auto hidden = table.holder(FileId{makedev(0, 0x2f), 99});
  REQUIRE(hidden);
  CHECK(hidden->pid == 0);
  CHECK_FALSE(table.holder(FileId{makedev(8, 1), 55}));
  CHECK_FALSE(table.holder(FileId{makedev(8, 1), 77}));
}

TEST_CASE("an acquirer blocked on a file that a cleaner removes takes the lock on a new file", "[locks]") {
  TempDir dir;
  std::string path = dir / ".main-xlogdb.lock";
  LockFile cleaner(path);
  REQUIRE(*cleaner.acquire());
  auto waiter = spawn_helper("lock-wait", {path});
  expect_prefix(waiter.read_line(), "waiting ");
  REQUIRE(test::wait_for_blocked_waiter(path));  // blocked on the old inode
  REQUIRE(::unlink(path.c_str()) == 0);          // what clean does, while holding
  cleaner.release();
  CHECK(waiter.read_line() == "acquired");
  // The waiter noticed its inode was gone and locked the file now at `path`.
  CHECK(LockFile(path).owner_pid() == waiter.pid());
}
