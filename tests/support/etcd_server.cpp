#include "support/etcd_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CATCH_CONFIG_EXTERNAL_INTERFACES  // for TestEventListenerBase
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace fs = std::filesystem;

namespace cellar::test {
namespace {

const char* const kRunPrefix = "cellar-etcd-";
const char* const kEtcd = "/usr/bin/etcd";
const char* const kRootPassword = "cellar-root";

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("etcd harness: " + what); }

// Directories whose owning test process is gone (its etcd died with it,
// through PR_SET_PDEATHSIG): removed.
void remove_stale_dirs() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/tmp", ec)) {
    const std::string name = entry.path().filename();
    if (name.rfind(kRunPrefix, 0) != 0 || !entry.is_directory(ec)) continue;
    const std::string owner = read_text(entry.path() / "owner");
    if (!owner.empty() && ::kill(static_cast<pid_t>(std::atol(owner.c_str())), 0) == 0) continue;
    fs::remove_all(entry.path(), ec);
  }
}

// etcd in its own session, stdin from /dev/null, stdout and stderr to
// etcd.log; killed when the thread that started it ends.
pid_t launch(const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) fail("fork failed");
  if (pid == 0) {
    ::signal(SIGPIPE, SIG_DFL);  // the test binary ignores it (main.cpp)
    ::setsid();
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int in = ::open("/dev/null", O_RDONLY);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0) ::_exit(127);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

bool exited(pid_t pid) { return ::waitpid(pid, nullptr, WNOHANG) == pid; }

}  // namespace

int unused_port() {
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

std::unique_ptr<EtcdServer> EtcdServer::start(Transport transport) {
  if (::access(kEtcd, X_OK) != 0) fail(std::string(kEtcd) + " not found; run scripts/setup (installs etcd-server)");
  remove_stale_dirs();
  std::unique_ptr<EtcdServer> s(new EtcdServer());
  std::string base = std::string("/tmp/") + kRunPrefix + "XXXXXX";
  if (!::mkdtemp(base.data())) fail("mkdtemp failed");
  s->base_ = base;
  write_text(base + "/owner", std::to_string(::getpid()));
  s->client_port_ = unused_port();
  s->peer_port_ = unused_port();
  s->tls_ = transport == Transport::tls;
  const std::string client = s->endpoint(), peer = "http://127.0.0.1:" + std::to_string(s->peer_port_);
  std::vector<std::string> args{kEtcd,
                                "--name",
                                "cellar-test",
                                "--data-dir",
                                base + "/data",
                                "--listen-client-urls",
                                client,
                                "--advertise-client-urls",
                                client,
                                "--listen-peer-urls",
                                peer,
                                "--initial-advertise-peer-urls",
                                peer,
                                "--initial-cluster",
                                "cellar-test=" + peer,
                                "--log-level",
                                "warn"};
  if (s->tls_) {
    const RunResult cert = run_program({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                                        s->key_file(), "-out", s->cert_file()});
    if (cert.exit_code != 0) fail("openssl req failed: " + cert.err);
    args.insert(args.end(), {"--cert-file", s->cert_file(), "--key-file", s->key_file(), "--client-cert-auth",
                             "--trusted-ca-file", s->cert_file()});
  }
  s->pid_ = launch(args, base + "/etcd.log");
  s->wait_until_answering();
  return s;
}

// Until a read answers: etcd binds its port before it has a leader.
void EtcdServer::wait_until_answering() const {
  etcd::ClientOptions options = client_options();
  options.request_timeout = std::chrono::milliseconds(500);
  etcd::Client client(options);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    auto answer = client.get("/cellar-test/probe");
    if (answer) return;
    if (exited(pid_)) fail("etcd exited at start; see " + base_ + "/etcd.log");
    if (std::chrono::steady_clock::now() > deadline)
      fail("etcd did not answer on port " + std::to_string(client_port_) + " (" + answer.status().message() +
           "); see " + base_ + "/etcd.log");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

EtcdServer::~EtcdServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    bool gone = false;
    for (int i = 0; i < 100 && !(gone = exited(pid_)); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!gone) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  std::error_code ec;
  fs::remove_all(base_, ec);
}

std::string EtcdServer::endpoint() const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(client_port_);
}

std::string EtcdServer::cert_file() const { return base_ + "/cert.pem"; }
std::string EtcdServer::key_file() const { return base_ + "/key.pem"; }

std::string EtcdServer::fresh_prefix() {
  static std::atomic<int> counter{0};
  return "/cellar-test/" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + "/";
}

etcd::ClientOptions EtcdServer::client_options() const {
  etcd::ClientOptions o;
  o.endpoints = {endpoint()};
  if (tls_) {
    o.ca_file = cert_file();
    o.cert_file = cert_file();
    o.key_file = key_file();
  }
  return o;
}

RunResult EtcdServer::etcdctl(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"etcdctl", "--endpoints=" + endpoint()};
  if (tls_)
    for (const std::string& a : {"--cacert=" + cert_file(), "--cert=" + cert_file(), "--key=" + key_file()})
      argv.push_back(a);
  if (auth_) argv.push_back(std::string("--user=root:") + kRootPassword);
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv, {"ETCDCTL_API=3"});
}

void EtcdServer::enable_auth(const std::string& user, const std::string& password) {
  const std::vector<std::vector<std::string>> steps = {
      {"user", "add", std::string("root:") + kRootPassword},
      {"user", "grant-role", "root", "root"},
      {"user", "add", user + ":" + password},
      {"role", "add", "cellar-rw"},
      {"role", "grant-permission", "cellar-rw", "--prefix=true", "readwrite", "/"},
      {"user", "grant-role", user, "cellar-rw"},
      {"auth", "enable"}};
  for (const auto& step : steps) {
    const RunResult r = etcdctl(step);
    if (r.exit_code != 0) fail("etcdctl " + step[0] + " " + step[1] + " failed: " + r.err);
  }
  auth_ = true;
}

void EtcdServer::set_password(const std::string& user, const std::string& password) {
  // etcdctl reads a new password from stdin only.
  const std::string command = "printf '%s\\n' '" + password + "' | etcdctl --endpoints=" + endpoint() +
                              " --user=root:" + kRootPassword + " user passwd " + user + " --interactive=false";
  const RunResult r = run_program({"sh", "-c", command}, {"ETCDCTL_API=3"});
  if (r.exit_code != 0) fail("etcdctl user passwd failed: " + r.err);
}

namespace {
std::unique_ptr<EtcdServer>& shared_slot() {
  static std::unique_ptr<EtcdServer> server;
  return server;
}

void stop_shared() { shared_slot().reset(); }

// Stops the shared server when the Catch2 run ends, whatever the outcome.
struct SharedEtcdListener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testRunEnded(const Catch::TestRunStats&) override { stop_shared(); }
};
}  // namespace

CATCH_REGISTER_LISTENER(SharedEtcdListener)

EtcdServer& shared_etcd() {
  auto& s = shared_slot();
  if (!s) {
    static bool registered = (std::atexit(stop_shared), true);
    (void)registered;
    s = EtcdServer::start();
  }
  return *s;
}

}  // namespace cellar::test
