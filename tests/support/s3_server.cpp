#include "support/s3_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define CATCH_CONFIG_EXTERNAL_INTERFACES  // for TestEventListenerBase
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "s3/bucket.h"
#include "support/run.h"

namespace fs = std::filesystem;

namespace cellar::test {
namespace {

const char* const kRunPrefix = "cellar-s3-run-";
const char* const kPython = "/usr/bin/python3";
const char* const kServers[] = {"account", "container", "object"};

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("s3 harness: " + what); }

bool is_root() { return ::geteuid() == 0; }

// The account the servers run as: `swift` when we are root (they drop to
// it), else ourselves.
std::string server_user() {
  if (!is_root()) return ::getpwuid(::geteuid())->pw_name;
  if (::getpwnam("swift") == nullptr)
    fail("running as root but there is no 'swift' account; install swift-proxy (scripts/setup)");
  return "swift";
}

void check_installed() {
  for (const char* s : {"proxy", "account", "container", "object"}) {
    const std::string bin = std::string("/usr/bin/swift-") + s + "-server";
    if (::access(bin.c_str(), X_OK) != 0)
      fail(bin + " not found; run scripts/setup (installs swift-proxy swift-account swift-container swift-object)");
  }
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

// "<pid> <starttime>": field 22 of /proc/PID/stat tells a live owner from a
// recycled pid.
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

// SIGTERM to the session of each pid file under run/, SIGKILL to what is
// left after 5 s. Each server leads its own session and process group.
void stop_sessions(const std::string& base) {
  std::vector<pid_t> groups;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(base + "/run", ec)) {
    const pid_t pid = static_cast<pid_t>(std::atol(read_text(e.path()).c_str()));
    if (pid > 1 && ::kill(-pid, SIGTERM) == 0) groups.push_back(pid);
  }
  for (pid_t pid : groups) {
    for (int i = 0; i < 100 && ::kill(-pid, 0) == 0; ++i) {
      while (::waitpid(-pid, nullptr, WNOHANG) > 0) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(-pid, SIGKILL);
    while (::waitpid(-pid, nullptr, WNOHANG) > 0) {
    }
  }
}

// Servers whose owning test process is gone (a killed run): stopped, removed.
void reap_stale_servers() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/tmp", ec)) {
    const std::string name = entry.path().filename();
    if (name.rfind(kRunPrefix, 0) != 0 || !entry.is_directory(ec)) continue;
    const std::string dir = entry.path();
    const std::string owner = read_text(dir + "/owner");
    const pid_t pid = static_cast<pid_t>(std::atol(owner.c_str()));
    if (!owner.empty() && pid > 0 && process_identity(pid) == owner) continue;
    stop_sessions(dir);
    fs::remove_all(dir, ec);
  }
}

// Whether something answers on the port: a connection is accepted and, for
// plain HTTP, a request gets a status line back. (A server binds its port
// before its worker is ready; what connects meanwhile waits in the backlog.)
bool answers(int port, bool http) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (ok && http) {
    const std::string ask = "GET /healthcheck HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    char buf[16] = {};
    ok = ::send(fd, ask.data(), ask.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(ask.size()) &&
         ::recv(fd, buf, 5, MSG_WAITALL) == 5 && std::string(buf, 5) == "HTTP/";
  }
  ::close(fd);
  return ok;
}

// One Python process builds the three rings (the swift-ring-builder command
// would take nine): one device per ring, one replica, 2^8 partitions.
const char* const kRingScript = R"(
import sys
from swift.common.ring import RingBuilder
etc = sys.argv[1]
for name, port in zip(('account', 'container', 'object'), sys.argv[2:5]):
    b = RingBuilder(8, 1, 1)
    b.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': int(port), 'device': 'sdb1', 'weight': 1})
    b.rebalance()
    b.get_ring().save('%s/%s.ring.gz' % (etc, name))
)";

std::string server_conf(const std::string& base, const std::string& name, int port, const std::string& user) {
  return "[DEFAULT]\ndevices = " + base +
         "/node\nmount_check = false\nbind_ip = 127.0.0.1\nbind_port = " + std::to_string(port) +
         "\nworkers = 1\nuser = " + user + "\nswift_dir = " + base + "/etc\n[pipeline:main]\npipeline = " + name +
         "-server\n[app:" + name + "-server]\nuse = egg:swift#" + name + "\n[" + name + "-replicator]\n[" + name +
         "-updater]\n[" + name + "-auditor]\n";
}

// The proxy: s3api in front of tempauth; slo for multipart uploads. Hosts
// under "localhost" name a bucket (virtual-hosted style: libcurl resolves
// *.localhost to 127.0.0.1 itself), any other host means path style.
std::string proxy_conf(const std::string& base, int port, const std::string& user, const std::string& tls) {
  std::string conf = "[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = " + std::to_string(port) +
                     "\nworkers = 1\nuser = " + user + "\nswift_dir = " + base + "/etc\n" + tls +
                     "[pipeline:main]\npipeline = catch_errors gatekeeper healthcheck proxy-logging cache "
                     "listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server\n"
                     "[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n"
                     "[filter:cache]\nuse = egg:swift#memcache\nmemcache_servers = 127.0.0.1:1\n"
                     "[filter:s3api]\nuse = egg:swift#s3api\nlocation = us-east-1\nstorage_domain = localhost\n"
                     "[filter:tempauth]\nuse = egg:swift#tempauth\nuser_test_tester = testing .admin\n";
  for (const char* f : {"catch_errors", "gatekeeper", "healthcheck", "proxy_logging", "listing_formats", "bulk", "copy",
                        "slo", "dlo"}) {
    std::string section = f;
    if (section == "proxy_logging") section = "proxy-logging";
    conf += "[filter:" + section + "]\nuse = egg:swift#" + f + "\n";
  }
  return conf;
}

void wait_until_answering(int port, bool http, const std::string& what, const std::string& base) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (!answers(port, http)) {
    if (std::chrono::steady_clock::now() > deadline)
      fail("the " + what + " did not answer on port " + std::to_string(port) + "; see " + base + "/log");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void chown_to(const std::string& path, const std::string& user) {
  if (!is_root()) return;
  const RunResult r = run_program({"chown", "-R", user + ":", path});
  if (r.exit_code != 0) fail("chown " + path + ": " + r.err);
}

}  // namespace

std::unique_ptr<S3Server> S3Server::start() {
  check_installed();
  reap_stale_servers();
  std::unique_ptr<S3Server> s(new S3Server());
  std::string base = std::string("/tmp/") + kRunPrefix + "XXXXXX";
  if (!::mkdtemp(base.data())) fail("mkdtemp failed");
  s->base_ = base;
  ::chmod(base.c_str(), 0755);  // the servers read their configuration as swift
  write_text(base + "/owner", process_identity(::getpid()));
  for (const char* d : {"/etc", "/node", "/node/sdb1", "/cache", "/log", "/run"}) fs::create_directories(base + d);
  s->proxy_port_ = free_port();
  for (int& p : s->backend_ports_) p = free_port();
  s->write_configs();
  for (int i = 0; i < 3; ++i) s->launch(kServers[i], kServers[i], base + "/etc/" + kServers[i] + "-server.conf");
  s->launch("proxy", "proxy", base + "/etc/proxy-server.conf");
  for (int i = 0; i < 3; ++i)
    wait_until_answering(s->backend_ports_[i], true, std::string(kServers[i]) + " server", base);
  wait_until_answering(s->proxy_port_, true, "proxy server", base);
  return s;
}

void S3Server::write_configs() {
  const std::string etc = base_ + "/etc", user = server_user();
  write_text(etc + "/swift.conf",
             "[swift-hash]\nswift_hash_path_suffix = cellar-test\nswift_hash_path_prefix = cellar-test\n"
             "[storage-policy:0]\nname = gold\ndefault = yes\n");
  for (int i = 0; i < 3; ++i)
    write_text(etc + "/" + kServers[i] + "-server.conf", server_conf(base_, kServers[i], backend_ports_[i], user));
  write_text(etc + "/proxy-server.conf", proxy_conf(base_, proxy_port_, user, ""));
  const RunResult rings = run_program({kPython, "-c", kRingScript, etc, std::to_string(backend_ports_[0]),
                                       std::to_string(backend_ports_[1]), std::to_string(backend_ports_[2])});
  if (rings.exit_code != 0) fail("building the rings failed: " + rings.err);
  chown_to(base_ + "/node", user);
  chown_to(base_ + "/cache", user);
  for (const auto& e : fs::directory_iterator(etc)) ::chmod(e.path().c_str(), 0644);
}

// Each server in its own session (so that one signal reaches its workers),
// stdin from /dev/null, stdout and stderr to log/NAME.log.
void S3Server::launch(const std::string& name, const std::string& server, const std::string& conf) {
  const std::string bin = "/usr/bin/swift-" + server + "-server", log = base_ + "/log/" + name + ".log";
  const char* argv[] = {kPython, bin.c_str(), conf.c_str(), nullptr};
  const pid_t pid = ::fork();
  if (pid < 0) fail("fork failed");
  if (pid == 0) {
    ::signal(SIGPIPE, SIG_DFL);  // the test binary ignores it (main.cpp)
    ::setsid();
    const int in = ::open("/dev/null", O_RDONLY);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0) ::_exit(127);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execv(kPython, const_cast<char* const*>(argv));
    ::_exit(127);
  }
  write_text(base_ + "/run/" + name + ".pid", std::to_string(pid));
}

std::string S3Server::tls_endpoint() {
  if (!tls_started_) {
    const std::string etc = base_ + "/etc", user = server_user();
    const RunResult cert = run_program({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                                        etc + "/key.pem", "-out", etc + "/cert.pem"});
    if (cert.exit_code != 0) fail("openssl req failed: " + cert.err);
    chown_to(etc + "/key.pem", user);
    tls_port_ = free_port();
    const std::string tls = "cert_file = " + etc + "/cert.pem\nkey_file = " + etc + "/key.pem\n";
    write_text(etc + "/proxy-tls-server.conf", proxy_conf(base_, tls_port_, user, tls));
    ::chmod((etc + "/proxy-tls-server.conf").c_str(), 0644);
    ::chmod((etc + "/cert.pem").c_str(), 0644);
    launch("proxy-tls", "proxy", etc + "/proxy-tls-server.conf");
    wait_until_answering(tls_port_, false, "https proxy server", base_);
    tls_started_ = true;
  }
  return "https://127.0.0.1:" + std::to_string(tls_port_);
}

std::string S3Server::endpoint() const { return "http://127.0.0.1:" + std::to_string(proxy_port_); }
std::string S3Server::ca_file() const { return base_ + "/etc/cert.pem"; }

s3::Options S3Server::options(const std::string& bucket) const {
  s3::Options o;
  o.endpoint = endpoint();
  o.bucket = bucket;
  o.prefix = "repo";
  o.path_style = true;
  o.credentials = {"test:tester", "testing", ""};
  o.part_size = 5 << 20;
  o.retry_base = std::chrono::milliseconds(20);
  o.retry_cap = std::chrono::milliseconds(500);
  return o;
}

std::string S3Server::create_bucket() {
  static std::atomic<int> counter{0};
  const std::string bucket = "cellar-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
  s3::Options o = options(bucket);
  o.retries = 8;  // the first request of a fresh server may find it still loading
  if (Status st = s3::create_bucket(o); !st) fail(st.message() + "; see " + base_ + "/log");
  return bucket;
}

void S3Server::stop_all() { stop_sessions(base_); }

S3Server::~S3Server() {
  stop_all();
  std::error_code ec;
  fs::remove_all(base_, ec);
}

namespace {
std::unique_ptr<S3Server>& shared_slot() {
  static std::unique_ptr<S3Server> server;
  return server;
}

void stop_shared() { shared_slot().reset(); }

// Stops the shared server when the Catch2 run ends, whatever the outcome.
struct SharedS3Listener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testRunEnded(const Catch::TestRunStats&) override { stop_shared(); }
};
}  // namespace

CATCH_REGISTER_LISTENER(SharedS3Listener)

S3Server& shared_s3() {
  auto& s = shared_slot();
  if (!s) {
    static bool registered = (std::atexit(stop_shared), true);
    (void)registered;
    s = S3Server::start();
  }
  return *s;
}

s3::Options test_s3_options() {
  S3Server& server = shared_s3();
  return server.options(server.create_bucket());
}

}  // namespace cellar::test
