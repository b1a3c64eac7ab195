#include "locks/etcd_lease.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace cellar::locks {

using Clock = std::chrono::steady_clock;

// Shared by the keeper and its thread, so that the thread can outlive a
// keeper destroyed on that very thread (by an on_lost that drops the last
// lock of a manager already gone).
struct LeaseKeeper::State {
  std::shared_ptr<etcd::Client> client;
  std::chrono::seconds requested_ttl;
  mutable std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  int64_t lease = 0;  // 0 = none
  std::chrono::seconds granted{0};
  Clock::time_point deadline;      // lose every lock if no renewal succeeded by then
  Clock::time_point next_renewal;  // when to send the next keepalive
  std::vector<std::shared_ptr<LeaseWatch>> watches;
};

namespace {

using State = LeaseKeeper::State;

std::chrono::milliseconds margin_of(std::chrono::seconds ttl) {
  // Room for the holder to stop (receive-wal's loop wakes every 250 ms) before
  // etcd can expire the lease: 2 s, or TTL/4 for long TTLs, never more than
  // half the TTL (etcd's 2 s minimum TTL then keeps a 1 s margin).
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(ttl);
  return std::min<std::chrono::milliseconds>(std::max<std::chrono::milliseconds>(std::chrono::seconds(2), ms / 4),
                                             ms / 2);
}

// After a renewal answered at `sent` with `ttl` left (or a grant).
void renewed(State& s, Clock::time_point sent, std::chrono::seconds ttl) {
  s.granted = ttl;
  s.deadline = sent + ttl - margin_of(ttl);
  s.next_renewal = sent + std::chrono::duration_cast<std::chrono::milliseconds>(ttl) / 3;
}

// Every lock of the current lease is lost; the lease is forgotten. The
// callbacks run without the mutex, so they may release locks.
void lose(State& s, std::unique_lock<std::mutex>& lock) {
  std::vector<std::shared_ptr<LeaseWatch>> lost;
  for (auto& w : s.watches)
    if (w->lease == s.lease) lost.push_back(w);
  std::erase_if(s.watches, [&](const auto& w) { return w->lease == s.lease; });
  s.lease = 0;
  for (auto& w : lost) w->lost = true;
  lock.unlock();
  for (auto& w : lost)
    if (w->on_lost) w->on_lost();
  lock.lock();
}

// A keepalive that failed (no answer) is tried again soon; the deadline,
// not the number of failures, decides when the locks are lost.
std::chrono::milliseconds retry_pause(std::chrono::seconds ttl) {
  return std::min<std::chrono::milliseconds>(std::chrono::milliseconds(250),
                                             std::chrono::duration_cast<std::chrono::milliseconds>(ttl) / 3);
}

void keep_alive(std::shared_ptr<State> s) {
  // Signals are the main thread's (stop flags, EINTR of its blocking calls,
  // cellar lock's forwarding): never delivered here.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  std::unique_lock<std::mutex> lock(s->mutex);
  while (!s->stopping) {
    if (s->lease == 0) {
      s->wake.wait(lock);
      continue;
    }
    const auto now = Clock::now();
    if (now >= s->deadline) {
      lose(*s, lock);
      continue;
    }
    if (now < s->next_renewal) {
      s->wake.wait_until(lock, std::min(s->next_renewal, s->deadline));
      continue;
    }
    const int64_t id = s->lease;
    const auto deadline = s->deadline;
    lock.unlock();
    const auto sent = Clock::now();
    auto ttl = s->client->keepalive(id, deadline);
    lock.lock();
    if (s->lease != id) continue;  // forgotten meanwhile
    if (ttl && *ttl > 0)
      renewed(*s, sent, std::chrono::seconds(*ttl));
    else if (ttl)
      lose(*s, lock);  // etcd says the lease is gone
    else
      s->next_renewal = Clock::now() + retry_pause(s->granted);
  }
}

}  // namespace

LeaseKeeper::LeaseKeeper(std::shared_ptr<etcd::Client> client, std::chrono::seconds ttl)
    : state_(std::make_shared<State>()) {
  state_->client = std::move(client);
  state_->requested_ttl = ttl;
  thread_ = std::thread(keep_alive, state_);
}

LeaseKeeper::~LeaseKeeper() {
  int64_t id;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stopping = true;
    id = state_->lease;
    state_->lease = 0;
  }
  state_->wake.notify_all();
  if (thread_.get_id() == std::this_thread::get_id())
    thread_.detach();
  else
    thread_.join();
  // Best effort: a lease that cannot be revoked expires by itself.
  if (id != 0) (void)state_->client->revoke(id);
}

Result<int64_t> LeaseKeeper::lease() {
  std::unique_lock<std::mutex> lock(state_->mutex);
  // A lease past its deadline (the keeper thread has not run since, e.g.
  // after SIGCONT) is as good as lost: lose it now, never hand it out.
  if (state_->lease != 0 && Clock::now() >= state_->deadline) lose(*state_, lock);
  if (state_->lease != 0) return state_->lease;
  const auto sent = Clock::now();
  auto granted = state_->client->grant(state_->requested_ttl);
  if (!granted) return granted.status();
  state_->lease = granted->id;
  renewed(*state_, sent, std::chrono::seconds(granted->ttl));
  state_->wake.notify_all();
  return state_->lease;
}

bool LeaseKeeper::past_deadline(int64_t lease) const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->lease != lease || Clock::now() >= state_->deadline;
}

bool LeaseKeeper::watch(const std::shared_ptr<LeaseWatch>& watch) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (watch->lease != state_->lease) return false;
  state_->watches.push_back(watch);
  return true;
}

void LeaseKeeper::unwatch(const LeaseWatch* watch) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  std::erase_if(state_->watches, [&](const auto& w) { return w.get() == watch; });
}

void LeaseKeeper::forget(int64_t lease) {
  std::unique_lock<std::mutex> lock(state_->mutex);
  if (state_->lease == lease) lose(*state_, lock);
}

}  // namespace cellar::locks
