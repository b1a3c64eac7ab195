#include "common/signals.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <thread>

namespace cellar::signals {
namespace {

constexpr int kHandled[] = {SIGTERM, SIGINT, SIGHUP};

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reopen{false};
std::atomic<bool> g_child{false};
std::atomic<pid_t> g_forward_to{0};
// The self-pipe: handlers write a byte, wait_for_signal polls the read end.
int g_wake[2] = {-1, -1};

static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<pid_t>::is_always_lock_free,
              "signal handlers may only touch lock-free atomics");

void wake() {
  int saved = errno;  // a handler must not change errno under the code it interrupted
  if (g_wake[1] >= 0) (void)!::write(g_wake[1], "s", 1);
  errno = saved;
}

extern "C" void on_stop(int) {
  g_stop = true;
  wake();
}

extern "C" void on_hup(int) {
  g_reopen = true;
  wake();
}

extern "C" void on_child(int) {
  g_child = true;
  wake();
}

extern "C" void on_forward(int sig) {
  int saved = errno;
  if (pid_t child = g_forward_to; child > 0) ::kill(child, sig);
  errno = saved;
}

void set_handler(int sig, void (*handler)(int), int flags, struct sigaction* previous = nullptr) {
  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = handler;
  sa.sa_flags = flags;
  ::sigaction(sig, &sa, previous);
}

void drain_wake_pipe() {
  char buf[64];
  while (::read(g_wake[0], buf, sizeof buf) > 0) {
  }
}

}  // namespace

void install_stop_handlers() {
  static std::once_flag pipe_once;
  std::call_once(pipe_once, [] { (void)::pipe2(g_wake, O_CLOEXEC | O_NONBLOCK); });
  // No SA_RESTART: a blocking call in the streaming loop returns EINTR at once.
  set_handler(SIGTERM, on_stop, 0);
  set_handler(SIGINT, on_stop, 0);
  set_handler(SIGHUP, on_hup, 0);
  set_handler(SIGPIPE, SIG_IGN, 0);
}

bool stop_requested() { return g_stop; }

void request_stop() {
  g_stop = true;
  wake();
}

bool take_reopen_request() { return g_reopen.exchange(false); }

void install_child_handler() { set_handler(SIGCHLD, on_child, SA_RESTART | SA_NOCLDSTOP); }

bool take_child_exited() { return g_child.exchange(false); }

int wake_fd() { return g_wake[0]; }

void drain_wakeups() {
  if (g_wake[0] >= 0) drain_wake_pipe();
}

bool wait_for_signal(std::chrono::milliseconds timeout) {
  if (g_wake[0] < 0) {
    std::this_thread::sleep_for(timeout);
    return false;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{g_wake[0], POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (n > 0) {
      drain_wake_pipe();
      return true;
    }
    if (n == 0 || errno != EINTR) return false;
    // EINTR: a handler ran and wrote its byte; the next poll sees it.
  }
}

Blocked::Blocked() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kHandled) sigaddset(&set, sig);
  ::pthread_sigmask(SIG_BLOCK, &set, &previous_);
}

void Blocked::restore() {
  if (!active_) return;
  active_ = false;
  ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

Forwarder::Forwarder(pid_t child) {
  g_forward_to = child;
  for (size_t i = 0; i < 3; ++i) set_handler(kHandled[i], on_forward, SA_RESTART, &previous_[i]);
}

Forwarder::~Forwarder() {
  for (size_t i = 0; i < 3; ++i) ::sigaction(kHandled[i], &previous_[i], nullptr);
  g_forward_to = 0;
}

void reset_in_child() {
  struct sigaction dfl {};
  sigemptyset(&dfl.sa_mask);
  dfl.sa_handler = SIG_DFL;
  for (int sig : kHandled) ::sigaction(sig, &dfl, nullptr);
  ::sigaction(SIGPIPE, &dfl, nullptr);
  ::sigaction(SIGCHLD, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

}  // namespace cellar::signals
