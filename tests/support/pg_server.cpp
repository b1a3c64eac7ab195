#include "support/pg_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define CATCH_CONFIG_EXTERNAL_INTERFACES  // for TestEventListenerBase
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "pg/connection.h"

namespace fs = std::filesystem;

namespace cellar::test {
namespace {

const char* const kTemplateVersion = "v1";
const char* const kRunPrefix = "cellar-pg-run-";
const char* const kPasswordGroup = "cellar_pw";

bool is_root() { return ::geteuid() == 0; }

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("pg harness: " + what); }

void must(const RunResult& r, const std::string& what) {
  if (r.exit_code != 0) fail(what + " failed (exit " + std::to_string(r.exit_code) + "): " + r.err + r.out);
}

struct Account {
  uid_t uid;
  gid_t gid;
};

Account server_account() {
  if (!is_root()) return {::geteuid(), ::getegid()};
  const passwd* pw = ::getpwnam("postgres");
  if (!pw) fail("running as root but there is no 'postgres' account; install postgresql-15 (scripts/setup)");
  return {pw->pw_uid, pw->pw_gid};
}

void chown_one(const std::string& path) {
  if (!is_root()) return;
  Account a = server_account();
  if (::chown(path.c_str(), a.uid, a.gid) != 0) fail("chown \"" + path + "\" failed");
}

void make_dir(const std::string& path, mode_t mode, bool for_server) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) fail("mkdir \"" + path + "\" failed");
  ::chmod(path.c_str(), mode);
  if (for_server) chown_one(path);
}

void append_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::app);
  if (!f || !(f << text)) fail("cannot append to \"" + path + "\"");
}

// "<pid> <starttime>": starttime (field 22 of /proc/PID/stat) tells a live
// owner from a recycled PID.
std::string process_identity(pid_t pid) {
  std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  auto paren = stat.rfind(')');
  if (stat.empty() || paren == std::string::npos) return "";
  std::istringstream rest(stat.substr(paren + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
  }
  return std::to_string(pid) + " " + field;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    fail("cannot find a free port");
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string template_dir() {
  std::string dir = std::string("/tmp/cellar-pg-template-") + kTemplateVersion;
  return is_root() ? dir : dir + "-" + std::to_string(::geteuid());
}

// Holds an flock on <template>.lock for its lifetime.
class TemplateLock {
 public:
  TemplateLock() : fd_(::open((template_dir() + ".lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600)) {
    if (fd_ < 0 || ::flock(fd_, LOCK_EX) != 0) fail("cannot lock \"" + template_dir() + ".lock\"");
  }
  ~TemplateLock() { ::close(fd_); }

 private:
  int fd_;
};

const char* const kHba =
    "# cellar test harness: scram for members of cellar_pw, trust for the rest\n"
    "local all +cellar_pw scram-sha-256\n"
    "local replication +cellar_pw scram-sha-256\n"
    "local all all trust\n"
    "local replication all trust\n";

const char* const kConf =
    "\n# cellar test harness\n"
    "wal_level = replica\n"
    "max_wal_senders = 10\n"
    "max_replication_slots = 10\n"
    "shared_buffers = 16MB\n"
    "max_connections = 40\n"
    "listen_addresses = ''\n"
    // Crash recovery syncs the data directory first: one syncfs() instead of
    // an fsync per file of a freshly copied (all dirty) cluster, seconds saved.
    "recovery_init_sync_method = syncfs\n"
    "log_line_prefix = '%m [%p] %q%u@%d '\n";

std::vector<std::string> initdb_argv(const std::string& data) {
  return {pg_bindir() + "/initdb",
          "-D",
          data,
          "-U",
          "postgres",
          "-A",
          "trust",
          "-E",
          "UTF8",
          "--locale=C",
          "-k",
          "--no-sync",
          "--no-instructions"};
}

// initdb plus the harness settings; the caller appends per-server settings.
void make_cluster(const std::string& data) {
  must(run_as_postgres(initdb_argv(data)), "initdb");
  append_text(data + "/postgresql.conf", kConf);
  write_text(data + "/pg_hba.conf", kHba);
}

void build_template(const std::string& dir, const std::string& version) {
  fs::remove_all(dir);
  make_dir(dir, 0755, true);
  std::string data = dir + "/data";
  make_cluster(data);
  int fd = ::open(data.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::syncfs(fd);
    ::close(fd);
  }
  write_text(dir + "/READY.tmp", version);
  fs::rename(dir + "/READY.tmp", dir + "/READY");
}

bool owner_alive(const std::string& run_dir) {
  std::string owner = read_text(run_dir + "/owner");
  if (owner.empty()) {
    // Not yet written by a starting process, or a very old leftover.
    std::error_code ec;
    auto age = fs::file_time_type::clock::now() - fs::last_write_time(run_dir, ec);
    return !ec && age < std::chrono::minutes(2);
  }
  pid_t pid = static_cast<pid_t>(std::atol(owner.c_str()));
  return pid > 0 && process_identity(pid) == owner;
}

void kill_postmaster(const std::string& data_dir) {
  std::string pidfile = read_text(data_dir + "/postmaster.pid");
  pid_t pid = static_cast<pid_t>(std::atol(pidfile.c_str()));
  // A stale postmaster.pid may name a recycled PID: only signal a postgres.
  if (pid <= 0 || read_text("/proc/" + std::to_string(pid) + "/comm") != "postgres\n") return;
  if (::kill(pid, SIGQUIT) != 0) return;  // SIGQUIT = immediate shutdown
  for (int i = 0; i < 100 && ::kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ::kill(pid, SIGKILL);
}

// Stops and removes servers whose owning test process is gone (a crashed or
// killed earlier run). Called under the template lock.
void reap_stale_servers() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/tmp", ec)) {
    std::string name = entry.path().filename();
    if (name.rfind(kRunPrefix, 0) != 0 || !entry.is_directory(ec)) continue;
    std::string dir = entry.path();
    struct stat sb {};
    if (::stat(dir.c_str(), &sb) != 0 || sb.st_uid != ::geteuid() || owner_alive(dir)) continue;
    kill_postmaster(dir + "/pg/data");
    fs::remove_all(dir, ec);
  }
}

// Makes sure a valid template exists; once per process also reaps stale servers.
std::string ensure_template() {
  static std::string ready;
  if (!ready.empty()) return ready;
  RunResult v = run_program({pg_bindir() + "/postgres", "--version"});
  must(v, "postgres --version");
  TemplateLock lock;
  reap_stale_servers();
  std::string dir = template_dir();
  // The marker holds what the template was made from: a new PostgreSQL or new
  // harness settings rebuild it.
  std::string marker = v.out + kConf + kHba;
  if (read_text(dir + "/READY") != marker) build_template(dir, marker);
  ready = dir;
  return ready;
}

// Postmasters of this process's running servers, for the fatal-signal path
// (async-signal-safe: a fixed array of atomics).
std::atomic<pid_t> g_postmasters[32];

void remember_postmaster(pid_t pid) {
  for (auto& slot : g_postmasters) {
    pid_t empty = 0;
    if (pid > 0 && slot.compare_exchange_strong(empty, pid)) return;
  }
}

void forget_postmaster(pid_t pid) {
  for (auto& slot : g_postmasters) {
    pid_t expected = pid;
    if (pid > 0 && slot.compare_exchange_strong(expected, 0)) return;
  }
}

std::string format_rows(const pg::QueryResult& r) {
  std::string out;
  for (const auto& row : r.rows) {
    if (!out.empty()) out += "\n";
    for (size_t c = 0; c < row.size(); ++c) out += (c ? "|" : "") + row[c].value_or("");
  }
  return out;
}

}  // namespace

std::string pg_bindir() {
  const char* env = std::getenv("CELLAR_PG_BINDIR");
  std::string dir = env && *env ? env : "/usr/lib/postgresql/15/bin";
  if (::access((dir + "/initdb").c_str(), X_OK) != 0 || ::access((dir + "/postgres").c_str(), X_OK) != 0)
    fail("PostgreSQL 15 server programs not found in \"" + dir +
         "\"; run scripts/setup (installs postgresql-15) or set CELLAR_PG_BINDIR");
  return dir;
}

RunResult run_as_postgres(const std::vector<std::string>& argv) {
  // cwd "/" so the server account never trips over an unreadable cwd.
  std::vector<std::string> full;
  if (is_root()) full = {"setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"};
  full.insert(full.end(), {"env", "-C", "/"});
  full.insert(full.end(), argv.begin(), argv.end());
  return run_program(full);
}

void chown_to_postgres(const std::string& path) {
  if (is_root()) must(run_program({"chown", "-R", "postgres:postgres", path}), "chown -R " + path);
}

std::unique_ptr<PgServer> PgServer::make_run_dir() {
  std::unique_ptr<PgServer> s(new PgServer());
  std::string base = std::string("/tmp/") + kRunPrefix + "XXXXXX";
  if (!::mkdtemp(base.data())) fail("mkdtemp failed");
  s->base_ = base;
  ::chmod(base.c_str(), 0755);  // the server account must traverse it
  write_text(base + "/owner", process_identity(::getpid()));
  s->pg_dir_ = base + "/pg";
  s->data_dir_ = s->pg_dir_ + "/data";
  s->sock_dir_ = s->pg_dir_ + "/sock";
  s->log_file_ = s->pg_dir_ + "/postgres.log";
  make_dir(s->pg_dir_, 0755, true);
  make_dir(s->sock_dir_, 0755, true);
  make_dir(s->pg_dir_ + "/tblspc", 0755, true);
  // No TCP listener (listen_addresses=''): the port only names the socket in our
  // private directory, so two servers cannot collide.
  s->port_ = free_port();
  return s;
}

std::unique_ptr<PgServer> PgServer::start(const PgOptions& options) {
  std::string tmpl = ensure_template();
  std::unique_ptr<PgServer> s = make_run_dir();
  if (options.fresh_initdb)
    make_cluster(s->data_dir_);
  else
    must(run_program({"cp", "-a", tmpl + "/data", s->data_dir_}), "copying the template cluster");
  std::string conf = "port = " + std::to_string(s->port_) + "\nunix_socket_directories = '" + s->sock_dir_ + "'\n";
  for (const auto& [k, v] : options.settings) conf += k + " = '" + v + "'\n";
  append_text(s->data_dir_ + "/postgresql.conf", conf);
  s->launch();
  return s;
}

std::unique_ptr<PgServer> PgServer::start_standby(PgServer& primary) {
  std::unique_ptr<PgServer> s = make_run_dir();
  bool was_running = primary.running();
  primary.stop();
  RunResult copied = run_program({"cp", "-a", primary.data_dir(), s->data_dir_});
  if (was_running) primary.start_again();
  must(copied, "copying the primary's data directory");
  // The later lines win: this server's own port and socket, and its upstream.
  std::string conf = "port = " + std::to_string(s->port_) + "\nunix_socket_directories = '" + s->sock_dir_ +
                     "'\nprimary_conninfo = 'host=" + primary.socket_dir() + " port=" + std::to_string(primary.port()) +
                     " user=postgres application_name=standby'\nhot_standby = on\n";
  append_text(s->data_dir_ + "/postgresql.conf", conf);
  write_text(s->data_dir_ + "/standby.signal", "");
  chown_to_postgres(s->data_dir_);
  s->launch();
  return s;
}

void PgServer::promote() {
  RunResult r = run_as_postgres({pg_bindir() + "/pg_ctl", "promote", "-D", data_dir_, "-w", "-t", "60"});
  if (r.exit_code != 0) fail("pg_ctl promote failed: " + r.err + "\n" + log_tail());
}

void PgServer::launch() {
  RunResult r = run_as_postgres({pg_bindir() + "/pg_ctl", "start", "-D", data_dir_, "-l", log_file_, "-w", "-t", "60"});
  if (r.exit_code != 0) fail("PostgreSQL did not start: " + r.err + "\n--- " + log_file_ + " ---\n" + log_tail());
  running_ = true;
  remember_postmaster(static_cast<pid_t>(std::atol(read_text(data_dir_ + "/postmaster.pid").c_str())));
}

void PgServer::pg_ctl_stop(const char* mode) {
  if (!running_) return;
  running_ = false;
  forget_postmaster(static_cast<pid_t>(std::atol(read_text(data_dir_ + "/postmaster.pid").c_str())));
  RunResult r = run_as_postgres({pg_bindir() + "/pg_ctl", "stop", "-D", data_dir_, "-m", mode, "-w", "-t", "60"});
  if (r.exit_code != 0) fail(std::string("pg_ctl stop -m ") + mode + " failed: " + r.err + "\n" + log_tail());
}

void PgServer::stop() { pg_ctl_stop("fast"); }
void PgServer::stop_immediate() { pg_ctl_stop("immediate"); }

void PgServer::start_again() {
  if (!running_) launch();
}

void PgServer::restart() {
  stop();
  launch();
}

PgServer::~PgServer() {
  try {
    stop_immediate();
  } catch (const std::exception&) {
    kill_postmaster(data_dir_);
  }
  std::error_code ec;
  fs::remove_all(base_, ec);
}

std::string PgServer::conninfo(const std::string& user) const {
  return "host=" + sock_dir_ + " port=" + std::to_string(port_) + " user=" + user + " dbname=postgres";
}

std::string PgServer::psql(const std::string& sql, const std::string& dbname) const {
  std::string ci = "host=" + sock_dir_ + " port=" + std::to_string(port_) + " user=postgres dbname=" + dbname;
  auto conn = pg::Connection::open(ci, pg::ConnectionKind::normal, "cellar_tests");
  if (!conn) fail(conn.status().message());
  auto r = conn->query(sql);
  if (!r) fail(r.status().message() + " (sql: " + sql + ")");
  return format_rows(*r);
}

void PgServer::create_role(const std::string& name, const std::string& attributes, const std::string& password) const {
  // Replace a role left by an earlier test case of this process.
  psql("DO $$BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = " + pg::sql_literal(name) +
       ") THEN EXECUTE 'DROP OWNED BY \"" + name + "\"'; EXECUTE 'DROP ROLE \"" + name + "\"'; END IF; END$$");
  std::string sql = "CREATE ROLE \"" + name + "\" LOGIN " + attributes;
  if (!password.empty()) sql += " PASSWORD " + pg::sql_literal(password);
  psql(sql);
  if (password.empty()) return;
  psql(std::string("DO $$BEGIN CREATE ROLE ") + kPasswordGroup +
       " NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END$$");
  psql(std::string("GRANT ") + kPasswordGroup + " TO \"" + name + "\"");
}

std::string PgServer::create_tablespace(const std::string& name) const {
  std::string dir = pg_dir_ + "/tblspc/" + name;
  make_dir(dir, 0700, true);
  psql("CREATE TABLESPACE \"" + name + "\" LOCATION " + pg::sql_literal(dir));
  return dir;
}

std::string PgServer::log_tail(size_t max_bytes) const {
  std::string log = read_text(log_file_);
  return log.size() > max_bytes ? log.substr(log.size() - max_bytes) : log;
}

namespace {
std::unique_ptr<PgServer>& shared_slot() {
  static std::unique_ptr<PgServer> server;
  return server;
}

void stop_shared() { shared_slot().reset(); }

// Stops the shared server when the Catch2 run ends, whatever the outcome.
struct SharedPgListener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  // Also reached from Catch's fatal-signal handler (a test hit SIGSEGV), where
  // no destructor will run: any other server still up then gets an immediate
  // shutdown request, and the next run removes its directory.
  void testRunEnded(const Catch::TestRunStats&) override {
    stop_shared();
    for (auto& slot : g_postmasters)
      if (pid_t pid = slot.exchange(0); pid > 0) ::kill(pid, SIGQUIT);
  }
};
}  // namespace

CATCH_REGISTER_LISTENER(SharedPgListener)

PgServer& shared_pg() {
  auto& s = shared_slot();
  if (!s) {
    static bool registered = (std::atexit(stop_shared), true);
    (void)registered;
    s = PgServer::start();
  }
  if (!s->running()) s->start_again();
  return *s;
}

}  // namespace cellar::test
