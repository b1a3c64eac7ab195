// Signals, set up in one place. cellar gives three signals a meaning: SIGTERM
// and SIGINT ask a long-running command (receive-wal, the daemon) to stop
// cleanly, SIGHUP asks it to reopen its log file (the daemon: to reload its
// configuration); `cellar lock` passes all three on to the command it runs.
// The daemon also counts SIGCHLD. Handlers only set flags and write one byte to a self-pipe,
// so a sleeping loop wakes at once (wait_for_signal) and a blocking system
// call returns EINTR (no SA_RESTART).
//
// Also here: blocking those signals around a fork (a signal must not land
// between fork and the moment the parent knows the child), and resetting a
// freshly forked child to default dispositions and an empty mask before it
// executes another program (process.h does that for every child).
//
// Not here: what a stop means for the receiver (wal/receiver.cpp).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>

namespace cellar::signals {

// SIGTERM/SIGINT set the stop flag, SIGHUP the reopen flag; SIGPIPE is
// ignored (a closed pipe is an EPIPE error instead). Idempotent.
void install_stop_handlers();

bool stop_requested();
void request_stop();  // as a SIGTERM would, e.g. from a test or an embedding caller
// True once after one or more SIGHUPs, then false until the next.
bool take_reopen_request();

// Sleeps up to `timeout`; returns true as soon as a handled signal arrives,
// or at once if one arrived since the last call. Requires
// install_stop_handlers() (without it, sleeps the whole timeout).
bool wait_for_signal(std::chrono::milliseconds timeout);

// For a supervisor (the daemon): SIGCHLD sets the child flag and wakes
// like the others (SA_NOCLDSTOP: only exits count). Idempotent; requires
// install_stop_handlers() for the wake-up.
void install_child_handler();
// True once after one or more SIGCHLDs, then false until the next.
bool take_child_exited();
// The read end of the self-pipe, for a caller that polls it among other
// descriptors; drain_wakeups() empties it once poll said it is readable.
int wake_fd();
void drain_wakeups();

// Blocks SIGTERM, SIGINT and SIGHUP in this thread until restore() or the
// end of the scope, which put back the mask that was there before. Signals
// that arrive meanwhile stay pending and are delivered on restore.
class Blocked {
 public:
  Blocked();
  ~Blocked() { restore(); }
  Blocked(const Blocked&) = delete;
  Blocked& operator=(const Blocked&) = delete;
  void restore();

 private:
  sigset_t previous_;
  bool active_ = true;
};

// While it lives, SIGTERM, SIGINT and SIGHUP received by this process are
// sent on to `child` instead; the previous handlers come back at the end of
// the scope. One at a time per process.
class Forwarder {
 public:
  explicit Forwarder(pid_t child);
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

 private:
  struct sigaction previous_[3];
};

// In a child between fork and exec: default dispositions for every signal
// above (and SIGPIPE), nothing blocked. Async-signal-safe.
void reset_in_child();

}  // namespace cellar::signals
