#include "daemon/maintenance.h"

#include <pthread.h>
#include <signal.h>

#include "cron/cron.h"

namespace cellar::daemon {

void Maintenance::start() {
  thread_ = std::thread([this] {
    // Signals are the main thread's business; here they would only turn
    // system calls of the pass into EINTR failures.
    sigset_t all;
    sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, nullptr);
    loop();
  });
}

void Maintenance::run_now() {
  std::lock_guard<std::mutex> guard(mutex_);
  now_ = true;
  wake_.notify_all();
}

void Maintenance::stop() {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    stopping_ = true;
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

PassReport Maintenance::last() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return last_;
}

int64_t Maintenance::next_in() const {
  std::lock_guard<std::mutex> guard(mutex_);
  if (running_) return 0;
  auto left = std::chrono::duration_cast<std::chrono::seconds>(next_ - std::chrono::steady_clock::now()).count();
  return std::max<int64_t>(0, left);
}

void Maintenance::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  next_ = std::chrono::steady_clock::now();
  while (!stopping_) {
    wake_.wait_until(lock, next_, [&] { return stopping_ || now_ || std::chrono::steady_clock::now() >= next_; });
    if (stopping_) break;
    now_ = false;
    running_ = true;
    lock.unlock();
    pass();
    lock.lock();
    running_ = false;
    auto interval = std::chrono::seconds(o_.config()->daemon_interval().count());
    next_ = std::chrono::steady_clock::now() + interval;
  }
}

void Maintenance::pass() {
  std::shared_ptr<const Config> config = o_.config();
  PassReport report;
  report.started = std::time(nullptr);
  auto began = std::chrono::steady_clock::now();
  cron::CronOptions c;
  c.config = config.get();
  c.config_path = o_.config_path;
  c.exe = o_.exe;
  c.supervise_receivers = false;
  c.say = o_.say;
  c.complain = [&](const Status& st) { o_.say("ERROR: " + st.message()); };
  c.server_done = [&](const std::string& server, const std::vector<std::string>& errors) {
    report.servers[server] = errors;
  };
  Status st = cron::run_cron(c);
  report.ok = st.is_ok();
  report.error = st.is_ok() ? "" : st.message();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::lock_guard<std::mutex> guard(mutex_);
  last_ = std::move(report);
}

}  // namespace cellar::daemon
