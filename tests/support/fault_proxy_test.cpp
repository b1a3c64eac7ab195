// Self-test of the fault-injecting HTTP proxy (support/fault_proxy.h): a tiny
// origin server behind it and a raw-socket client in front of it, so each
// fault is checked as both ends see it. Both ends parse HTTP with their own
// few lines here, not with the proxy's code.
#include "support/fault_proxy.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/fs.h"

using namespace cellar;
using namespace cellar::test;
using namespace std::chrono_literals;

namespace {

// Body bytes whose position can be told from their value, so a dropped or
// repeated block shows.
std::string pattern(size_t n, size_t from = 0) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>((from + i) % 251);
  return out;
}

uint64_t fnv1a(std::string_view bytes) {
  uint64_t hash = 14695981039346656037ull;
  for (char c : bytes) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return hash;
}

// What the origin answers to a PUT of `body`.
std::string stored_text(std::string_view body) {
  return "stored " + std::to_string(body.size()) + " bytes, hash " + std::to_string(fnv1a(body));
}

std::string request_text(const std::string& method, const std::string& target, const std::string& body = "",
                         const std::string& extra_headers = "") {
  std::string head = method + " " + target + " HTTP/1.1\r\nHost: test\r\n" + extra_headers;
  if (method == "PUT") head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return head + "\r\n" + body;
}

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Why a read on a test socket stopped short.
enum class Ending { none, eof, reset, timeout, error };

// Buffered reads from one blocking socket.
class Wire {
 public:
  explicit Wire(int fd) : fd_(fd) {}
  bool read_until(std::string_view delimiter, std::string& out) {
    size_t end = 0;
    while ((end = pending_.find(delimiter)) == std::string::npos)
      if (!fill()) return false;
    out = pending_.substr(0, end + delimiter.size());
    pending_.erase(0, end + delimiter.size());
    return true;
  }
  bool read_exact(size_t n, std::string& out) {
    while (n > 0) {
      if (pending_.empty() && !fill()) return false;
      size_t take = std::min(n, pending_.size());
      out.append(pending_, 0, take);
      pending_.erase(0, take);
      n -= take;
    }
    return true;
  }
  // Decodes a chunked body (extensions and trailers ignored) onto `out`.
  bool read_chunked(std::string& out) {
    std::string line;
    for (;;) {
      if (!read_until("\r\n", line)) return false;
      size_t size = std::stoul(line, nullptr, 16);
      if (size == 0) break;
      if (!read_exact(size, out) || !read_until("\r\n", line)) return false;
    }
    do {
      if (!read_until("\r\n", line)) return false;
    } while (line != "\r\n");
    return true;
  }
  bool read_to_end(std::string& out) {
    while (fill()) {
      out += pending_;
      pending_.clear();
    }
    return ending_ == Ending::eof;
  }
  Ending ending() const { return ending_; }

 private:
  bool fill() {
    char block[65536];
    for (;;) {
      ssize_t n = ::recv(fd_, block, sizeof block, 0);
      if (n > 0) {
        pending_.append(block, static_cast<size_t>(n));
        return true;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n == 0)
        ending_ = Ending::eof;
      else if (errno == ECONNRESET)
        ending_ = Ending::reset;
      else if (errno == EAGAIN || errno == EWOULDBLOCK)
        ending_ = Ending::timeout;
      else
        ending_ = Ending::error;
      return false;
    }
  }
  int fd_;
  std::string pending_;
  Ending ending_ = Ending::none;
};

// A start line and headers (names lowercased).
struct Message {
  std::string start_line;
  std::map<std::string, std::string> headers;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

Message parse_message(const std::string& head) {
  Message m;
  size_t end = head.find("\r\n");
  m.start_line = head.substr(0, end);
  for (size_t at = end + 2; (end = head.find("\r\n", at)) != at; at = end + 2) {
    std::string line = head.substr(at, end - at);
    size_t colon = line.find(':');
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    m.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
  }
  return m;
}

// A request as the origin saw it.
struct Seen {
  std::string line;  // "METHOD TARGET"
  Message head;
  std::string body;
};

std::vector<std::string> lines(const std::vector<Seen>& seen) {
  std::vector<std::string> out;
  for (const Seen& s : seen) out.push_back(s.line);
  return out;
}

// The upstream for the proxy: one thread per connection, answering by target:
// /bytes/N → N pattern bytes; /empty → 204; /chunked → "alphabetagamma" in
// three chunks; a PUT → stored_text(body); anything else → "you asked for
// TARGET"; HEAD → the GET head alone. It sends its own 100 Continue (with a
// telltale reason) and refuses one with 403 for PUT /refuse.
class Origin {
 public:
  Origin() : listener_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listener_.get(), 16) == 0);
    REQUIRE(::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~Origin() {
    ::shutdown(listener_.get(), SHUT_RDWR);  // wakes accept()
    acceptor_.join();
    {
      std::lock_guard lock(mu_);
      for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
    }
    for (std::thread& t : threads_) t.join();
  }
  int port() const { return port_; }
  std::vector<Seen> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }
  int connections() const {
    std::lock_guard lock(mu_);
    return connections_;
  }

 private:
  void accept_loop() {
    for (;;) {
      int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0 && (errno == EINTR || errno == ECONNABORTED)) continue;
      if (fd < 0) return;
      set_nodelay(fd);
      std::lock_guard lock(mu_);
      ++connections_;
      open_.push_back(fd);
      threads_.emplace_back([this, fd] {
        try {
          serve(fd);
        } catch (const std::exception&) {  // nonsense from the proxy: the test sees the connection end
        }
        std::lock_guard inner(mu_);
        open_.erase(std::find(open_.begin(), open_.end(), fd));
        ::close(fd);
      });
    }
  }

  void serve(int fd) {
    Wire wire(fd);
    std::string raw;
    while (wire.read_until("\r\n\r\n", raw)) {
      Seen seen{"", parse_message(raw), ""};
      seen.line = seen.head.start_line.substr(0, seen.head.start_line.rfind(' '));
      size_t index = record(seen);
      if (seen.head.header("expect") == "100-continue") {
        if (seen.line == "PUT /refuse") return refuse(fd, wire);
        if (!send_all(fd, "HTTP/1.1 100 Continue from origin\r\n\r\n")) return;
      }
      std::string body;
      std::string length = seen.head.header("content-length");
      bool whole = seen.head.header("transfer-encoding") == "chunked" ? wire.read_chunked(body)
                                                                      : wire.read_exact(std::stoul("0" + length), body);
      if (!whole) return;
      {
        std::lock_guard lock(mu_);
        seen_[index].body = body;
      }
      if (!respond(fd, seen.line, body)) return;
    }
  }

  size_t record(const Seen& seen) {
    std::lock_guard lock(mu_);
    seen_.push_back(seen);
    return seen_.size() - 1;
  }

  static void refuse(int fd, Wire& wire) {
    send_all(fd, "HTTP/1.1 403 Forbidden by origin\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    ::shutdown(fd, SHUT_WR);
    std::string ignored;
    wire.read_to_end(ignored);
  }

  static bool respond(int fd, const std::string& line, const std::string& body) {
    std::string method = line.substr(0, line.find(' '));
    std::string target = line.substr(line.find(' ') + 1);
    if (target == "/empty") return send_all(fd, "HTTP/1.1 204 No Content\r\n\r\n");
    if (target == "/chunked")
      return send_all(fd,
                      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nalpha\r\n4;x=y\r\nbeta\r\n5\r\ngamma\r\n0\r\nX-Done: yes\r\n\r\n");
    if (target.rfind("/bytes/", 0) == 0) return send_bytes(fd, std::stoul(target.substr(7)), method == "HEAD");
    std::string text = method == "PUT" ? stored_text(body) : "you asked for " + target;
    std::string head = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(text.size()) + "\r\n\r\n";
    return send_all(fd, method == "HEAD" ? head : head + text);
  }

  static bool send_bytes(int fd, size_t n, bool head_only) {
    if (!send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(n) + "\r\n\r\n")) return false;
    for (size_t at = 0; at < n && !head_only; at += 65536)
      if (!send_all(fd, pattern(std::min<size_t>(65536, n - at), at))) return false;
    return true;
  }

  UniqueFd listener_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::vector<Seen> seen_;
  std::vector<int> open_;  // shut down at destruction to end their threads
  int connections_ = 0;
  std::vector<std::thread> threads_;  // the acceptor's alone until it is joined
  std::thread acceptor_;
};

struct Response {
  int status = 0;  // 0: no whole head arrived
  std::string status_line;
  Message head;
  std::string body;
  bool complete = false;         // the body arrived whole, as the head framed it
  Ending ending = Ending::none;  // why it did not
};

// One client connection, with receive and send timeouts so that a proxy that
// misbehaves fails a test instead of hanging it.
class Client {
 public:
  // A `receive_buffer` (bytes) keeps the TCP window that small.
  explicit Client(int port, std::chrono::milliseconds timeout = 10s, int receive_buffer = 0)
      : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)), wire_(fd_.get()) {
    if (receive_buffer > 0) ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    REQUIRE(::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    set_nodelay(fd_.get());
    set_timeout(timeout);
  }
  void set_timeout(std::chrono::milliseconds timeout) {
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  // False if the connection failed (send_error() says how).
  bool send(std::string_view bytes) {
    if (send_all(fd_.get(), bytes)) return true;
    send_error_ = errno;
    return false;
  }
  int send_error() const { return send_error_; }
  // The next response; a 1xx is returned alone.
  Response read_response(bool to_head = false) {
    Response r;
    std::string raw;
    if (!wire_.read_until("\r\n\r\n", raw)) {
      r.ending = wire_.ending();
      return r;
    }
    r.head = parse_message(raw);
    r.status_line = r.head.start_line;
    r.status = std::stoi(r.status_line.substr(9, 3));
    if (to_head || r.status < 200 || r.status == 204 || r.status == 304)
      r.complete = true;
    else if (r.head.header("transfer-encoding") == "chunked")
      r.complete = wire_.read_chunked(r.body);
    else if (!r.head.header("content-length").empty())
      r.complete = wire_.read_exact(std::stoul(r.head.header("content-length")), r.body);
    else
      r.complete = wire_.read_to_end(r.body);
    if (!r.complete) r.ending = wire_.ending();
    return r;
  }
  Response get(const std::string& target) { return exchange("GET", target); }
  Response head(const std::string& target) { return exchange("HEAD", target); }
  Response put(const std::string& target, const std::string& body) { return exchange("PUT", target, body); }

 private:
  Response exchange(const std::string& method, const std::string& target, const std::string& body = "") {
    if (!send(request_text(method, target, body))) return {};
    return read_response(method == "HEAD");
  }
  UniqueFd fd_;
  Wire wire_;
  int send_error_ = 0;
};

bool is_s3_error(const Response& r, const std::string& code) {
  return r.head.header("content-type") == "application/xml" &&
         r.body.find("<Error><Code>" + code + "</Code><Message>") != std::string::npos &&
         r.body.find("</Message></Error>") != std::string::npos;
}

}  // namespace

TEST_CASE("the fault proxy forwards several requests on one keep-alive connection and counts them", "[support]") {
  Origin origin;
  FaultProxy proxy("127.0.0.1", origin.port());
  CHECK(proxy.endpoint() == "http://127.0.0.1:" + std::to_string(proxy.port()));
  Client client(proxy.port());

  Response a = client.get("/a");
  CHECK(a.status == 200);
  CHECK(a.body == "you asked for /a");
  Response head = client.head("/a");
  CHECK(head.status == 200);
  CHECK(head.head.header("content-length") == "16");
  CHECK(client.get("/empty").status == 204);
  Response chunked = client.get("/chunked");
  CHECK(chunked.complete);
  CHECK(chunked.head.header("transfer-encoding") == "chunked");
  CHECK(chunked.body == "alphabetagamma");
  CHECK(client.put("/p", "twelve bytes").body == stored_text("twelve bytes"));
  CHECK(client.get("/b").body == "you asked for /b");

  auto c = proxy.counters();
  CHECK(c.requests == 6);
  CHECK(c.injected == 0);
  CHECK(c.forwarded == 6);
  CHECK(origin.connections() == 1);
  REQUIRE(lines(origin.seen()) ==
          std::vector<std::string>{"GET /a", "HEAD /a", "GET /empty", "GET /chunked", "PUT /p", "GET /b"});
  CHECK(origin.seen()[4].body == "twelve bytes");
}

TEST_CASE("the fault proxy streams large response and request bodies through unchanged", "[support]") {
  Origin origin;
  FaultProxy proxy("127.0.0.1", origin.port());
  Client client(proxy.port());
  constexpr size_t kDown = 64u << 20;
  constexpr size_t kUp = (32u << 20) + 7;

  Response down = client.get("/bytes/" + std::to_string(kDown));
  REQUIRE(down.complete);
  CHECK(down.body.size() == kDown);
  CHECK(fnv1a(down.body) == fnv1a(pattern(kDown)));
  std::string up = pattern(kUp, 3);
  CHECK(client.put("/big", up).body == stored_text(up));
  CHECK(client.get("/after").body == "you asked for /after");
  CHECK(origin.connections() == 1);
}

TEST_CASE("fail_every(2) answers every second request with an S3 error, and upstream sees only the others",
          "[support]") {
  Origin origin;
  FaultProxy proxy("127.0.0.1", origin.port());
  proxy.fail_every(2);
  Client client(proxy.port());

  for (int i = 1; i <= 6; ++i) {
    std::string body = "body " + std::to_string(i);
    Response r = client.put("/r" + std::to_string(i), body);
    INFO("request " << i);
    if (i % 2 == 0) {
      CHECK(r.status == 503);
      CHECK(r.status_line == "HTTP/1.1 503 Service Unavailable");
      CHECK(is_s3_error(r, "SlowDown"));
    } else {
      CHECK(r.status == 200);
      CHECK(r.body == stored_text(body));
    }
  }
  CHECK(lines(origin.seen()) == std::vector<std::string>{"PUT /r1", "PUT /r3", "PUT /r5"});
  auto c = proxy.counters();
  CHECK(c.requests == 6);
  CHECK(c.injected == 3);
  CHECK(c.forwarded == 3);

  // The count runs across connections.
  Client other(proxy.port());
  CHECK(other.get("/r7").status == 200);
  CHECK(client.get("/r8").status == 503);
}

TEST_CASE("fail_next fails exactly the next requests with the given status and code", "[support]") {
  Origin origin;
  FaultProxy proxy("127.0.0.1", origin.port());
  Client client(proxy.port());
  CHECK(client.get("/before").status == 200);
  proxy.fail_next(2, 500, "InternalError");

  Response head = client.head("/h");
  CHECK(head.status == 500);
  Response get = client.get("/g");
  CHECK(get.status == 500);
  CHECK(is_s3_error(get, "InternalError"));
  CHECK(client.get("/after").body == "you asked for /after");  // and the HEAD error had no body
  CHECK(lines(origin.seen()) == std::vector<std::string>{"GET /before", "GET /after"});
  CHECK(proxy.counters().injected == 2);
}

TEST_CASE("an every-n fault counts requests from the call that sets it", "[support]") {
  Origin origin;
  FaultProxy proxy("127.0.0.1", origin.port());
  Client client(proxy.port());
  for (int i = 1; i <= 4; ++i) CHECK(client.get("/before").status == 200);
  proxy.fail_every(3, 500, "InternalError");
  std::vector<int> statuses;
  for (int i = 1; i <= 6; ++i) statuses.push_back(client.get("/after").status);
  CHECK(statuses == std::vector<int>{200, 200, 500, 200, 200, 500});
}

TEST_CASE("reset_mid_body passes on the head and part of the body, then resets the connection", "[support]") {
  Origin origin;
  FaultProxy proxy("127.0.0.1", origin.port());
  proxy.reset_mid_body_every(2);
  // A small window keeps much of what the proxy passes on in its send queue,
  // which an RST would throw away if the proxy did not wait for it to drain.
  Client client(proxy.port(), 10s, 16 * 1024);
  constexpr size_t kSize = 8u << 20;

  CHECK(client.get("/first").status == 200);
  Response cut = client.get("/bytes/" + std::to_string(kSize));
  CHECK(cut.status == 200);
  CHECK(cut.head.header("content-length") == std::to_string(kSize));
  CHECK_FALSE(cut.complete);
  CHECK(cut.ending == Ending::reset);
  CHECK(cut.body.size() == kSize / 2);
  CHECK(fnv1a(cut.body) == fnv1a(pattern(cut.body.size())));
  auto c = proxy.counters();
  CHECK(c.injected == 1);
  CHECK(c.forwarded == 2);
  CHECK(lines(origin.seen()).back() == "GET /bytes/" + std::to_string(kSize));

  // A response without a body is cut inside its head.
  proxy.reset_mid_body_every(1);
  Client second(proxy.port());
  Response head = second.head("/h");
  CHECK(head.status == 0);
  CHECK(head.ending == Ending::reset);
}

TEST_CASE("reset_mid_request takes part of the request body, resets, and never reaches upstream", "[support]") {
  Origin origin;
  FaultProxy proxy("127.0.0.1", origin.port());
  proxy.reset_mid_request_every(1);
  Client client(proxy.port());

  bool sent = client.send(request_text("PUT", "/never", pattern(4u << 20)));
  Response r = client.read_response();
  CHECK(r.status == 0);
  CHECK((r.ending == Ending::reset || (!sent && client.send_error() == ECONNRESET)));

  proxy.clear();
  Client after(proxy.port());
  CHECK(after.get("/after").status == 200);
  CHECK(lines(origin.seen()) == std::vector<std::string>{"GET /after"});
  CHECK(origin.connections() == 1);
  auto c = proxy.counters();
  CHECK(c.requests == 2);
  CHECK(c.injected == 1);
  CHECK(c.forwarded == 1);
}

TEST_CASE("a stall holds the response: a client with a shorter timeout gives up, the response comes later",
          "[support]") {
  Origin origin;
  FaultProxy proxy("127.0.0.1", origin.port());
  proxy.stall_every(1, 800ms);
  Client client(proxy.port(), 200ms);

  auto start = std::chrono::steady_clock::now();
  REQUIRE(client.send(request_text("GET", "/slow")));
  Response early = client.read_response();
  auto gave_up = std::chrono::steady_clock::now() - start;
  CHECK(early.status == 0);
  CHECK(early.ending == Ending::timeout);
  CHECK(gave_up < 800ms);

  client.set_timeout(10s);
  Response late = client.read_response();
  auto arrived = std::chrono::steady_clock::now() - start;
  CHECK(late.body == "you asked for /slow");
  CHECK(arrived >= 800ms);
  CHECK(lines(origin.seen()) == std::vector<std::string>{"GET /slow"});
  CHECK(proxy.counters().injected == 1);
  CHECK(proxy.counters().forwarded == 1);
}

TEST_CASE("cut silences every connection without closing any until heal", "[support]") {
  Origin origin;
  FaultProxy proxy("127.0.0.1", origin.port());
  Client a(proxy.port());
  CHECK(a.get("/before").status == 200);

  proxy.cut();
  a.set_timeout(300ms);
  REQUIRE(a.send(request_text("GET", "/during-a")));
  Response silent_a = a.read_response();
  CHECK(silent_a.status == 0);
  CHECK(silent_a.ending == Ending::timeout);  // no FIN, no RST: nothing at all
  Client b(proxy.port(), 300ms);
  REQUIRE(b.send(request_text("GET", "/during-b")));
  CHECK(b.read_response().ending == Ending::timeout);
  CHECK(lines(origin.seen()) == std::vector<std::string>{"GET /before"});

  proxy.heal();
  a.set_timeout(10s);
  b.set_timeout(10s);
  CHECK(a.read_response().body == "you asked for /during-a");
  CHECK(b.read_response().body == "you asked for /during-b");
  CHECK(proxy.counters().requests == 3);
}

TEST_CASE("a chunked request body is forwarded as sent and the next request is still found", "[support]") {
  Origin origin;
  FaultProxy proxy("127.0.0.1", origin.port());
  Client client(proxy.port());
  std::string big = pattern(1u << 20);
  char size_line[32];
  std::snprintf(size_line, sizeof size_line, "%zx\r\n", big.size());

  // Both requests in one write: the second starts right where the first ends.
  REQUIRE(
      client.send("PUT /chunky HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "6\r\nhello \r\n8;note=x\r\nchunked \r\n5\r\nworld\r\n" +
                  std::string(size_line) + big + "\r\n0\r\nX-Trailer: yes\r\n\r\n" + request_text("GET", "/next")));
  CHECK(client.read_response().body == stored_text("hello chunked world" + big));
  CHECK(client.read_response().body == "you asked for /next");
  std::vector<Seen> seen = origin.seen();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].head.header("transfer-encoding") == "chunked");
  CHECK(seen[0].head.header("content-length").empty());
  CHECK(proxy.counters().forwarded == 2);
}

TEST_CASE("Expect: 100-continue gets upstream's 100, and an injected failure answers with the final status",
          "[support]") {
  Origin origin;
  FaultProxy proxy("127.0.0.1", origin.port());
  std::string body = pattern(2u << 20);
  std::string head = "PUT /expect HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\nExpect: 100-continue\r\n\r\n";
  Client client(proxy.port());

  REQUIRE(client.send(head));
  Response interim = client.read_response();
  CHECK(interim.status_line == "HTTP/1.1 100 Continue from origin");
  REQUIRE(client.send(body));
  CHECK(client.read_response().body == stored_text(body));

  proxy.fail_next(1, 503, "SlowDown");
  REQUIRE(client.send(head));
  Response refused = client.read_response();
  CHECK(refused.status == 503);
  CHECK(is_s3_error(refused, "SlowDown"));
  CHECK(refused.head.header("connection") == "close");
  CHECK(client.read_response().ending == Ending::eof);
  CHECK(origin.seen().size() == 1);

  // Upstream's own refusal of the body is relayed the same way.
  Client other(proxy.port());
  REQUIRE(other.send("PUT /refuse HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  CHECK(other.read_response().status_line == "HTTP/1.1 403 Forbidden by origin");
  CHECK(other.read_response().ending == Ending::eof);
  auto c = proxy.counters();
  CHECK(c.requests == 3);
  CHECK(c.injected == 1);
  CHECK(c.forwarded == 2);
}

TEST_CASE("destroying the proxy closes idle, held and cut connections at once", "[support]") {
  Origin origin;
  auto proxy = std::make_unique<FaultProxy>("127.0.0.1", origin.port());
  Client idle(proxy->port());
  CHECK(idle.get("/idle").status == 200);
  proxy->stall_every(1, 60s);
  Client held(proxy->port(), 300ms);
  REQUIRE(held.send(request_text("GET", "/held")));
  CHECK(held.read_response().ending == Ending::timeout);
  proxy->cut();
  Client cut(proxy->port(), 300ms);
  REQUIRE(cut.send(request_text("GET", "/cut")));
  CHECK(cut.read_response().ending == Ending::timeout);

  auto start = std::chrono::steady_clock::now();
  proxy.reset();
  CHECK(std::chrono::steady_clock::now() - start < 10s);
  idle.set_timeout(10s);
  held.set_timeout(10s);
  cut.set_timeout(10s);
  CHECK(idle.read_response().ending == Ending::eof);
  CHECK(held.read_response().ending == Ending::eof);
  Ending cut_ending = cut.read_response().ending;  // the unread request makes the close an RST
  CHECK((cut_ending == Ending::eof || cut_ending == Ending::reset));
}
