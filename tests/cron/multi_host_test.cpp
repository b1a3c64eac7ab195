// Several cellar hosts, one repository, one etcd (SPEC §9): each "host" is a
// CellarEnv with its own home, spool and lock directory, its own
// CELLAR_HOSTNAME, lock_backend = "etcd" on the harness's real etcd, and the
// same absolute-path repository (standing in for NFS). The PostgreSQL is the
// harness's real one. What is checked is what the DBA is promised: one
// receive-wal per server across all hosts, a takeover after a host dies or
// loses etcd within TTL + one cron pass, no gap in the archive and every
// segment catalogued once, and fencing of a host frozen past its lease.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "common/fs.h"
#include "common/json.h"
#include "cron/cron_support.h"
#include "pg/wal_names.h"
#include "support/etcd_server.h"
#include "support/fault_proxy.h"
#include "support/pause_listener.h"
#include "support/pg_server.h"
#include "wal/xlogdb.h"

using namespace cellar;
using namespace cellar::test;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kTtl = 4;  // lock_ttl of these tests, seconds (a 2 s head start to stop: locks/etcd_lease.h)

// The processes whose command line runs `env`'s configuration (and `word`).
std::vector<pid_t> processes_of(const CellarEnv& env, const std::string& word = "") {
  std::vector<pid_t> out;
  auto pids = list_dir("/proc");
  if (!pids) return out;
  for (const auto& p : *pids) {
    if (p.find_first_not_of("0123456789") != std::string::npos) continue;
    auto raw = read_file("/proc/" + p + "/cmdline");
    if (!raw || raw->find(env.config()) == std::string::npos) continue;
    if (!word.empty() && raw->find(std::string("\0", 1) + word + std::string("\0", 1)) == std::string::npos) continue;
    auto stat = read_file("/proc/" + p + "/stat");
    if (stat && stat->find(") Z") != std::string::npos) continue;  // a zombie waiting for its reaper
    out.push_back(static_cast<pid_t>(std::stol(p)));
  }
  return out;
}

struct Cluster {
  PgServer& pg = shared_pg();
  EtcdServer& etcd = shared_etcd();
  std::string prefix = etcd.fresh_prefix();
  std::string slot;
  TempDir repo;
  std::vector<std::unique_ptr<CellarEnv>> hosts;
  std::vector<std::unique_ptr<FaultProxy>> proxies;  // one per host: its way to etcd

  Cluster(int n, std::string slot_name) : slot(std::move(slot_name)) {
    for (int i = 0; i < n; ++i) {
      proxies.push_back(std::make_unique<FaultProxy>("127.0.0.1", etcd.port()));
      auto env = std::make_unique<CellarEnv>();
      env->add_global(
          "lock_backend = \"etcd\"\netcd_endpoints = [\"http://127.0.0.1:" + std::to_string(proxies.back()->port()) +
          "\"]\netcd_prefix = \"" + prefix + "\"\nlock_ttl = \"" + std::to_string(kTtl) + "s\"");
      env->add_server("main", pg.conninfo(),
                      "create_slot = \"auto\"\nslot_name = \"" + slot + "\"\nrepository = \"" + repo.path() + "\"");
      env->set_env({"CELLAR_HOSTNAME=host" + std::to_string(i)});
      hosts.push_back(std::move(env));
    }
  }
  ~Cluster() {
    for (auto& p : proxies) p->heal();
    for (auto& h : hosts) kill_host(*h);
    try {
      pg.psql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
    } catch (...) {
    }
  }

  static void kill_host(const CellarEnv& env) {
    for (pid_t p : processes_of(env)) ::kill(p, SIGKILL);
    wait_until([&] { return processes_of(env).empty(); }, 10);
  }

  // One cron pass on each of `which` at the same instant; every exit code.
  std::vector<int> cron_all(const std::vector<size_t>& which) {
    std::vector<Child> running;
    for (size_t i : which) running.push_back(hosts[i]->spawn_cellar({"cron"}));
    std::vector<int> codes;
    for (auto& c : running) {
      while (!c.read_line().empty()) {
      }
      codes.push_back(c.wait());
    }
    return codes;
  }

  int receivers_total() const {
    int n = 0;
    for (const auto& h : hosts) n += static_cast<int>(processes_of(*h, "receive-wal").size());
    return n;
  }

  // The host whose process holds main's receive-wal lock, per `cellar locks`.
  std::string streaming_host(size_t asking = 0) const {
    auto r = hosts[asking]->run({"--format", "json", "locks", "main"});
    if (r.exit_code != 0) return "";
    auto doc = Json::parse(r.out);
    if (!doc || !doc->is_array()) return "";
    for (const Json& e : doc->as_array())
      if (e.find("kind") && e.find("kind")->is_string() && e.find("kind")->as_string() == "receive-wal" &&
          e.find("host")->is_string())
        return e.find("host")->as_string();
    return "";
  }

  std::string xlogdb() const { return repo.path() + "/main/wals/xlog.db"; }

  std::vector<std::string> catalogued() const {
    auto db = wal::load_xlogdb(xlogdb());
    std::vector<std::string> names;
    if (db)
      for (const auto& e : db->entries) names.push_back(e.name);
    return names;
  }

  bool archived(const std::string& segment) const {
    auto names = catalogued();
    return std::find(names.begin(), names.end(), segment) != names.end();
  }

  // Cron on `which` until `segment` is catalogued (receive-wal streams it,
  // the host's archive-wal stores it).
  void cron_until_archived(const std::vector<size_t>& which, const std::string& segment) {
    bool done = wait_until(
        [&] {
          cron_all(which);
          return archived(segment);
        },
        60);
    INFO("segment " << segment);
    REQUIRE(done);
  }
};

// From the first catalogued segment to `last`: every one there, each once.
void check_gap_free(const std::vector<std::string>& names, const std::string& last) {
  std::map<std::string, int> count;
  uint64_t lo = UINT64_MAX, hi = 0;
  for (const auto& n : names) {
    auto w = pg::parse_wal_file_name(n, pg::kDefaultSegmentSize);
    if (!w || w->kind != pg::WalFileKind::segment) continue;
    count[n]++;
    lo = std::min(lo, w->segno);
    hi = std::max(hi, w->segno);
  }
  auto l = pg::parse_wal_file_name(last, pg::kDefaultSegmentSize);
  REQUIRE(l);
  CHECK(hi >= l->segno);
  for (uint64_t s = lo; s <= hi; ++s) {
    std::string name = pg::make_segment_name(1, s, pg::kDefaultSegmentSize);
    INFO(name);
    CHECK(count[name] == 1);
  }
}

Child pgbench_load(const PgServer& pg, int seconds) {
  return spawn({"/usr/lib/postgresql/15/bin/pgbench", "-h", pg.socket_dir(), "-p", std::to_string(pg.port()), "-U",
                "postgres", "-n", "-c", "2", "-T", std::to_string(seconds), "-f", "/dev/stdin", "postgres"});
}

void init_load_table(PgServer& pg) {
  pg.psql("CREATE TABLE IF NOT EXISTS multi_host_t(id serial primary key, pad text)");
}

// Lets pgbench run a custom script given on its stdin.
void feed(Child& bench) {
  bench.write_line("INSERT INTO multi_host_t(pad) SELECT repeat('x', 500) FROM generate_series(1, 200);");
  bench.close_stdin();
}

}  // namespace

TEST_CASE("three hosts under pgbench load keep one receive-wal, take over a SIGKILLed host, archive without a gap",
          "[cron][etcd]") {
  Cluster c(3, "multi_three");
  init_load_table(c.pg);
  // Three crons at the same instant: exactly one receive-wal across the hosts.
  for (int code : c.cron_all({0, 1, 2})) CHECK(code == 0);
  REQUIRE(wait_until([&] { return c.receivers_total() == 1 && !c.streaming_host().empty(); }, 15));
  Child load = pgbench_load(c.pg, 20);
  feed(load);
  std::string first = switch_segment(*c.hosts[0], "main");
  c.cron_until_archived({0, 1, 2}, first);
  CHECK(c.receivers_total() == 1);
  // Every host's cron ran several times meanwhile: still one, the same one.
  std::string streamer = c.streaming_host();
  size_t dead = static_cast<size_t>(streamer.back() - '0');
  for (int code : c.cron_all({0, 1, 2})) CHECK(code == 0);
  CHECK(c.streaming_host() == streamer);
  CHECK(c.receivers_total() == 1);

  // Every cellar process of the streaming host dies at once.
  Cluster::kill_host(*c.hosts[dead]);
  auto killed_at = Clock::now();
  std::string during = switch_segment(*c.hosts[(dead + 1) % 3], "main");
  std::vector<size_t> alive;
  for (size_t i = 0; i < 3; ++i)
    if (i != dead) alive.push_back(i);
  // The others' crons (every half second here) take the stream over within TTL + one pass.
  bool taken = wait_until(
      [&] {
        c.cron_all(alive);
        std::string now = c.streaming_host(alive[0]);
        return !now.empty() && now != streamer;
      },
      kTtl + 15);
  double took = std::chrono::duration<double>(Clock::now() - killed_at).count();
  INFO("takeover after " << took << " s");
  REQUIRE(taken);
  CHECK(took < kTtl + 10);
  CHECK(c.receivers_total() == 1);
  c.cron_until_archived(alive, during);
  load.wait();
  std::string last = switch_segment(*c.hosts[alive[0]], "main");
  c.cron_until_archived(alive, last);

  // The dead host comes back: its cron archives what its spool still held
  // (duplicates of what the new streamer archived: dropped) and starts nothing.
  for (int code : c.cron_all({0, 1, 2})) CHECK(code == 0);
  CHECK(c.receivers_total() == 1);
  check_gap_free(c.catalogued(), last);
}

TEST_CASE("a streaming host cut off from etcd stops its receive-wal before its lease ends and another host takes over",
          "[cron][etcd]") {
  Cluster c(2, "multi_cut");
  init_load_table(c.pg);
  for (int code : c.cron_all({0})) CHECK(code == 0);
  REQUIRE(wait_until([&] { return c.streaming_host() == "host0"; }, 15));
  std::string first = switch_segment(*c.hosts[0], "main");
  c.cron_until_archived({0}, first);

  c.proxies[0]->cut();
  auto cut_at = Clock::now();
  // Host 0's receiver notices it cannot renew and stops (its lease is not yet gone).
  bool stopped = wait_until([&] { return processes_of(*c.hosts[0], "receive-wal").empty(); }, kTtl + 5);
  double stop_after = std::chrono::duration<double>(Clock::now() - cut_at).count();
  INFO("host0's receive-wal stopped after " << stop_after << " s");
  REQUIRE(stopped);
  // It stopped while its lease still held the key (read past the cut proxy).
  etcd::Client direct(c.etcd.client_options());
  auto key = direct.get(c.prefix + "main-receive-wal");
  REQUIRE(key);
  CHECK(key->has_value());
  auto log = read_file(c.hosts[0]->server_dir("main") + "/receive-wal.log");
  REQUIRE(log);
  CHECK(contains(*log, "lost lock main-receive-wal"));
  // Host 0's cron cannot reach etcd: one clear error, nothing started.
  auto blind = c.hosts[0]->run({"cron"});
  CHECK(blind.exit_code == 1);
  CHECK(contains(blind.err, "etcd at \"http://127.0.0.1:" + std::to_string(c.proxies[0]->port()) + "\""));
  CHECK(processes_of(*c.hosts[0], "receive-wal").empty());

  std::string during = switch_segment(*c.hosts[1], "main");
  bool taken = wait_until(
      [&] {
        c.cron_all({1});
        return c.streaming_host(1) == "host1";
      },
      kTtl + 15);
  REQUIRE(taken);
  c.cron_until_archived({1}, during);
  c.proxies[0]->heal();
  for (int code : c.cron_all({0, 1})) CHECK(code == 0);
  CHECK(c.receivers_total() == 1);
  CHECK(c.streaming_host() == "host1");
  check_gap_free(c.catalogued(), during);
}

TEST_CASE("a backup frozen past its lease is fenced: the next host's backup runs and the frozen one never publishes",
          "[cron][etcd]") {
  Cluster c(2, "multi_fence");
  PauseListener pause("backup-started");
  Child frozen = c.hosts[0]->spawn_cellar({"backup", "main"}, {pause.env()});
  auto pid = pause.wait_reached(60);
  REQUIRE(pid);
  ::kill(*pid, SIGSTOP);
  // Its lease runs out while it is stopped: host 1 can take the backup lock.
  bool free = wait_until(
      [&] {
        auto r = c.hosts[1]->run({"--format", "json", "locks", "main"});
        return r.exit_code == 0 && !contains(r.out, "\"kind\": \"backup\"");
      },
      kTtl + 10);
  REQUIRE(free);
  auto second = c.hosts[1]->run({"backup", "main"});
  INFO(second.out << second.err);
  CHECK(second.exit_code == 0);
  ::kill(*pid, SIGCONT);
  pause.release();
  while (!frozen.read_line().empty()) {
  }
  // Continued, it finds its lease gone: it says so and ends without publishing.
  CHECK(frozen.wait() != 0);
  auto log = read_file(c.hosts[0]->home() + "/cellar.log");
  REQUIRE(log);
  CHECK(contains(*log, "lost lock main-backup"));
  // Host 1 saw the frozen one's STARTED backup without a holder: FAILED. The
  // frozen one, continued, finds its lock gone and does not publish.
  auto list = c.hosts[1]->run({"--format", "json", "list-backups", "main"});
  REQUIRE(list.exit_code == 0);
  auto doc = Json::parse(list.out);
  REQUIRE(doc);
  REQUIRE(doc->as_array().size() == 2);
  std::multiset<std::string> statuses;
  for (const Json& b : doc->as_array()) statuses.insert(b.find("status")->as_string());
  CHECK(statuses.count("FAILED") == 1);
  CHECK(statuses.count("FAILED") + statuses.count("WAITING_FOR_WALS") + statuses.count("DONE") == 2);
}

TEST_CASE("with etcd unreachable, commands that need a lock fail with one clear error and start nothing",
          "[cron][etcd]") {
  CellarEnv env;
  int port = unused_port();
  env.add_global("lock_backend = \"etcd\"\netcd_endpoints = \"http://127.0.0.1:" + std::to_string(port) + "\"");
  env.add_server("main", shared_pg().conninfo(), "slot_name = \"multi_unreachable\"");
  for (std::vector<std::string> args :
       {std::vector<std::string>{"receive-wal", "main"}, {"backup", "main"}, {"archive-wal", "main"}}) {
    auto r = env.run(args);
    INFO(args[0] << ": " << r.err);
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "ERROR: cannot reach etcd at \"http://127.0.0.1:" + std::to_string(port) + "\""));
    CHECK(count_of(r.err, "ERROR:") == 1);
  }
  CHECK_FALSE(path_exists(env.server_dir("main") + "/base"));
  auto cron = env.run({"cron"});
  CHECK(cron.exit_code == 1);
  CHECK(processes_of(env, "receive-wal").empty());
  auto holds = env.run({"holds"});
  CHECK(holds.exit_code == 1);
}
