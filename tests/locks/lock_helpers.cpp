// Helper modes for the multi-process [locks] tests. Each reports on stdout
// and waits on stdin (see support/helper_mode.h).
#include "lock_helpers.h"

#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "locks/lock_file.h"
#include "support/helper_mode.h"
#include "support/run.h"

namespace cellar::test {
namespace {

using locks::AcquireOptions;
using locks::LockFile;

void say(const std::string& line) { std::cout << line << std::endl; }

// Reads stdin until EOF (the test closed it or died).
void wait_for_eof() {
  std::string line;
  while (std::getline(std::cin, line)) {
  }
}

// lock-hold PATH [nopid]: holds PATH; "release"/"acquire" on stdin toggle it.
int lock_hold(const std::vector<std::string>& args) {
  LockFile lock(args.at(0));
  AcquireOptions options;
  options.update_pid = args.size() < 2 || args[1] != "nopid";
  auto got = lock.acquire(options);
  if (!got) {
    say("error " + got.status().message());
    return 1;
  }
  say("locked " + std::to_string(::getpid()));
  for (std::string line; std::getline(std::cin, line);) {
    if (line == "release") lock.release(), say("released");
    if (line == "acquire") say(lock.acquire(options) ? "locked" : "error");
  }
  return 0;
}

// lock-wait PATH [TIMEOUT_MS]: waits for PATH, says how that ended.
int lock_wait(const std::vector<std::string>& args) {
  LockFile lock(args.at(0));
  AcquireOptions options;
  options.wait = true;
  if (args.size() > 1) options.timeout = std::chrono::milliseconds(std::stoi(args[1]));
  say("waiting " + std::to_string(::getpid()));
  auto got = lock.acquire(options);
  say(got ? "acquired" : "busy " + got.status().message());
  wait_for_eof();
  return 0;
}

// lock-exec PATH: takes PATH, then execs into "block" (same PID).
int lock_exec(const std::vector<std::string>& args) {
  LockFile lock(args.at(0));
  if (!lock.acquire()) return 1;
  std::string exe = self_exe();
  std::cout.flush();
  ::execl(exe.c_str(), exe.c_str(), "--helper", "block", static_cast<char*>(nullptr));
  return 127;
}

int block(const std::vector<std::string>&) {
  say("ready " + std::to_string(::getpid()));
  wait_for_eof();
  return 0;
}

// lock-loop PATH N: N times acquire (waiting: the case where an acquirer
// blocks on a file that a cleaner then unlinks), check the kernel names us as the holder
// of PATH (i.e. nobody removed the file under us), release. Reports
// "done LOST BUSY": LOST times the check failed, BUSY times a cleaner held
// the file at that instant (expected: cleaning takes each free lock briefly).
int lock_loop(const std::vector<std::string>& args) {
  int n = std::stoi(args.at(1)), lost = 0, busy = 0;
  say("started");
  for (int i = 0; i < n; ++i) {
    LockFile lock(args[0], true, true);
    auto got = lock.acquire();
    if (!got) {
      ++busy;
      continue;
    }
    if (lock.owner_pid() != ::getpid()) ++lost;
  }
  say("done " + std::to_string(lost) + " " + std::to_string(busy));
  return 0;
}

// unprivileged-acquire PATH USER: drops to USER, then tries PATH.
int unprivileged_acquire(const std::vector<std::string>& args) {
  const passwd* pw = ::getpwnam(args.at(1).c_str());
  if (!pw || ::setgroups(0, nullptr) != 0 || ::setgid(pw->pw_gid) != 0 || ::setuid(pw->pw_uid) != 0) {
    say("cannot become " + args[1]);
    return 1;
  }
  LockFile lock(args[0]);
  auto got = lock.acquire();
  if (got)
    say("acquired");
  else
    say("error " + std::to_string(static_cast<int>(got.status().code())) + " " + got.status().message() + " | " +
        got.status().hint());
  return 0;
}

CELLAR_TEST_HELPER("lock-hold", lock_hold);
CELLAR_TEST_HELPER("lock-wait", lock_wait);
CELLAR_TEST_HELPER("lock-exec", lock_exec);
CELLAR_TEST_HELPER("block", block);
CELLAR_TEST_HELPER("lock-loop", lock_loop);
CELLAR_TEST_HELPER("unprivileged-acquire", unprivileged_acquire);

}  // namespace

bool wait_for_blocked_waiter(const std::string& path, int limit_ms) {
  struct stat sb {};
  if (::stat(path.c_str(), &sb) != 0) return false;
  char id[64];
  std::snprintf(id, sizeof id, " %02x:%02x:%lu ", major(sb.st_dev), minor(sb.st_dev),
                static_cast<unsigned long>(sb.st_ino));
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(limit_ms);
  while (std::chrono::steady_clock::now() < until) {
    std::string table = read_text("/proc/locks");
    for (size_t at = 0; (at = table.find("-> FLOCK", at)) != std::string::npos; ++at) {
      size_t eol = table.find('\n', at);
      if (table.substr(at, eol - at).find(id) != std::string::npos) return true;
    }
    ::sched_yield();
  }
  return false;
}

}  // namespace cellar::test
