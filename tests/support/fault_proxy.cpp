#include "support/fault_proxy.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <vector>

#include "common/fs.h"

namespace cellar::test {
namespace {

constexpr size_t kBlock = 64 * 1024;    // the most one read takes in
constexpr size_t kMaxHead = 64 * 1024;  // a longer head ends the connection
constexpr size_t kMaxLine = 4096;       // the same for a chunk-size or trailer line

// Thrown inside a connection's thread to end it: a peer closed or failed, the
// framing made no sense, the proxy reset it on purpose, or the proxy stops.
struct ConnectionEnded {};

enum class Fault { none, fail, reset_mid_request, reset_mid_body, stall };

// What to do with one request.
struct Decision {
  Fault fault = Fault::none;
  int number = 0;    // the request's number, 1-based
  int status = 0;    // Fault::fail
  std::string code;  // Fault::fail
  std::chrono::milliseconds stall{0};
};

// An "every n-th request" fault, counted from request `since` (the count when
// it was set).
struct Every {
  int n = 0;
  int since = 0;
  bool hits(int number) const { return n > 0 && number > since && (number - since) % n == 0; }
};

struct Faults {
  int fail_next = 0;
  int next_status = 0;
  std::string next_code;
  Every fail;
  int fail_status = 0;
  std::string fail_code;
  Every reset_mid_request;
  Every reset_mid_body;
  Every stall;
  std::chrono::milliseconds stall_for{0};
};

// How the body after a head is delimited.
enum class Framing { none, length, chunked, until_close };

// A head as it came, and what forwarding needs from it.
struct Head {
  std::string raw;     // through the blank line
  std::string method;  // requests
  int status = 0;      // responses
  Framing framing = Framing::none;
  uint64_t length = 0;           // Framing::length
  bool expect_continue = false;  // requests
  bool close = false;            // the sender ends the connection after this message
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether the comma-separated header value lists `token` (any case).
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    if (lower(trim(value.substr(0, comma))) == token) return true;
    value.remove_prefix(comma == std::string_view::npos ? value.size() : comma + 1);
  }
  return false;
}

template <typename Int>
Int parse_number(std::string_view digits, int base = 10) {
  Int value{};
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
  if (error != std::errc() || end == digits.data()) throw ConnectionEnded{};
  return value;
}

// `raw` holds one complete head, blank line included.
Head parse_head(std::string raw, bool is_request) {
  Head head;
  std::string_view rest(raw);
  auto next_line = [&rest] {
    size_t end = rest.find("\r\n");  // found: the head ends with a blank line
    std::string_view line = rest.substr(0, end);
    rest.remove_prefix(end + 2);
    return line;
  };
  std::string_view start = next_line();
  size_t first_space = start.find(' ');
  if (first_space == std::string_view::npos) throw ConnectionEnded{};
  std::string_view version;
  if (is_request) {
    head.method = start.substr(0, first_space);
    version = start.substr(start.rfind(' ') + 1);
  } else {
    version = start.substr(0, first_space);
    head.status = parse_number<int>(start.substr(first_space + 1));
  }
  bool chunked = false, has_length = false, close = false, keep_alive = false;
  for (std::string_view line = next_line(); !line.empty(); line = next_line()) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) throw ConnectionEnded{};
    std::string name = lower(line.substr(0, colon));
    std::string_view value = trim(line.substr(colon + 1));
    if (name == "content-length") {
      head.length = parse_number<uint64_t>(value);
      has_length = true;
    }
    if (name == "transfer-encoding") chunked = chunked || has_token(value, "chunked");
    if (name == "expect") head.expect_continue = lower(value) == "100-continue";
    if (name == "connection") close = close || has_token(value, "close");
    if (name == "connection") keep_alive = keep_alive || has_token(value, "keep-alive");
  }
  head.close = close || (version == "HTTP/1.0" && !keep_alive);
  if (chunked)
    head.framing = Framing::chunked;
  else if (has_length)
    head.framing = Framing::length;
  else
    head.framing = is_request ? Framing::none : Framing::until_close;
  head.raw = std::move(raw);
  return head;
}

uint64_t parse_chunk_size(std::string_view line) { return parse_number<uint64_t>(line, 16); }

const char* reason_phrase(int status) {
  static const std::pair<int, const char*> kPhrases[] = {{400, "Bad Request"},
                                                         {403, "Forbidden"},
                                                         {404, "Not Found"},
                                                         {409, "Conflict"},
                                                         {412, "Precondition Failed"},
                                                         {429, "Too Many Requests"},
                                                         {500, "Internal Server Error"},
                                                         {502, "Bad Gateway"},
                                                         {503, "Service Unavailable"},
                                                         {504, "Gateway Timeout"}};
  for (auto [code, phrase] : kPhrases)
    if (code == status) return phrase;
  return "Injected Fault";
}

std::string error_response(const Head& request, const Decision& decision, bool keep_open) {
  std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + decision.code +
                     "</Code><Message>fault injected by the test proxy into request " +
                     std::to_string(decision.number) + "</Message></Error>\n";
  std::string head = "HTTP/1.1 " + std::to_string(decision.status) + " " + reason_phrase(decision.status) +
                     "\r\nContent-Type: application/xml\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\nConnection: " + (keep_open ? "keep-alive" : "close") + "\r\n\r\n";
  return request.method == "HEAD" ? head : head + body;
}

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

UniqueFd connect_upstream(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) throw ConnectionEnded{};
  UniqueFd fd;
  for (addrinfo* a = found; a != nullptr && !fd.valid(); a = a->ai_next) {
    fd = UniqueFd(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    if (fd.valid() && ::connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0) fd.reset();
  }
  ::freeaddrinfo(found);
  if (!fd.valid()) throw ConnectionEnded{};
  set_nodelay(fd.get());
  return fd;
}

UniqueFd listen_on_loopback(int& port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (!fd.valid() || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd.get(), 64) != 0 || ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error(std::string("fault proxy could not listen on 127.0.0.1: ") + std::strerror(errno));
  port = ntohs(addr.sin_port);
  return fd;
}

void signal_eventfd(int fd) {
  uint64_t one = 1;
  (void)!::write(fd, &one, sizeof one);
}

}  // namespace

namespace detail {

class Connection;

struct FaultProxyState {
  std::string upstream_host;
  int upstream_port = 0;
  UniqueFd listener;
  int port = 0;
  UniqueFd accept_wake;  // eventfd: tells the acceptor to stop

  std::mutex mu;
  std::condition_variable changed;  // a cut healed, or stopping
  bool stopping = false;
  bool cut = false;
  Faults faults;
  FaultProxy::Counters counters;

  std::thread acceptor;
  std::vector<std::unique_ptr<Connection>> connections;  // the acceptor's alone until it is joined

  Decision decide();
  void count_forwarded();
  void accept_loop();
};

// One client connection and its upstream connection, served by one thread.
// Sockets are used non-blocking (MSG_DONTWAIT) and waited for with poll, so
// that the proxy stopping (an eventfd) interrupts any wait.
class Connection {
 public:
  // `wake` is an eventfd that wake() signals.
  Connection(FaultProxyState& proxy, UniqueFd client, UniqueFd wake);
  ~Connection() { thread_.join(); }
  void wake() { signal_eventfd(wake_.get()); }
  bool finished() const { return finished_; }

 private:
  struct Peer {
    UniqueFd fd;
    std::string pending;  // read from fd, not yet consumed
  };
  struct IoResult {
    ssize_t n;
    int error;
  };

  void run();
  bool serve_one();
  void answer_error(const Head& request, const Decision& decision);
  void forward(const Head& request, const Decision& decision);
  std::optional<Head> await_continue(const Head& request);
  Head read_response(const Head& request);
  Head read_response_head(const Head& request);
  [[noreturn]] void reset_mid_request(const Head& request);
  [[noreturn]] void reset_mid_body(const Head& response);
  uint64_t first_stretch(Peer& from, const Head& head, std::string& taken);
  void hold(std::chrono::milliseconds how_long);
  void open_upstream();
  [[noreturn]] void close_gracefully();
  [[noreturn]] void reset(Peer& peer);

  std::optional<Head> read_head(Peer& from, bool is_request);
  std::string read_line(Peer& from);
  void copy_body(Peer& from, Peer* to, const Head& head);
  void copy_bytes(Peer& from, Peer* to, uint64_t n);
  void copy_chunked(Peer& from, Peer* to);

  template <typename Call>
  IoResult gated(Call call);
  bool fill(Peer& from);
  void send_all(Peer& to, std::string_view bytes);
  size_t wait_any(std::vector<pollfd> fds);
  void wait_ready(int fd, short events) { wait_any({{fd, events, 0}}); }

  FaultProxyState& proxy_;
  Peer client_;
  Peer upstream_;
  UniqueFd wake_;
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

Connection::Connection(FaultProxyState& proxy, UniqueFd client, UniqueFd wake)
    : proxy_(proxy), client_{std::move(client), {}}, wake_(std::move(wake)) {
  thread_ = std::thread([this] { run(); });
}

void Connection::run() {
  try {
    while (serve_one()) {
    }
  } catch (const ConnectionEnded&) {
  } catch (const std::exception&) {
  }
  client_.fd.reset();
  upstream_.fd.reset();
  finished_ = true;
}

// One request and its response; false when the client closed before a new
// request. Every other end of the connection throws ConnectionEnded.
bool Connection::serve_one() {
  std::optional<Head> request = read_head(client_, true);
  if (!request) return false;
  Decision decision = proxy_.decide();
  if (decision.fault == Fault::fail)
    answer_error(*request, decision);
  else if (decision.fault == Fault::reset_mid_request)
    reset_mid_request(*request);
  else
    forward(*request, decision);
  return true;
}

void Connection::answer_error(const Head& request, const Decision& decision) {
  // A client waiting for 100 Continue gets the final status instead and then
  // chooses whether to send the body anyway; only closing is unambiguous.
  bool keep_open = !request.expect_continue && !request.close;
  if (!request.expect_continue) copy_body(client_, nullptr, request);
  send_all(client_, error_response(request, decision, keep_open));
  if (!keep_open) close_gracefully();
}

void Connection::forward(const Head& request, const Decision& decision) {
  open_upstream();
  send_all(upstream_, request.raw);
  proxy_.count_forwarded();
  std::optional<Head> response;
  if (request.expect_continue) response = await_continue(request);
  bool body_sent = !response || request.framing == Framing::none;
  if (!response) {
    copy_body(client_, &upstream_, request);
    response = read_response(request);
  }
  if (decision.fault == Fault::stall) hold(decision.stall);
  if (decision.fault == Fault::reset_mid_body) reset_mid_body(*response);
  send_all(client_, response->raw);
  copy_body(upstream_, &client_, *response);
  bool keep_open = body_sent && !request.close && !response->close && response->framing != Framing::until_close;
  if (!keep_open) close_gracefully();
}

// After a head announcing Expect: 100-continue: relays upstream's 100 and
// returns nothing, so the body flows; the same when the client starts the
// body unasked (its wait for 100 timed out; read_response relays a late 100).
// Returns upstream's final response if that comes instead.
std::optional<Head> Connection::await_continue(const Head& request) {
  for (;;) {
    if (!client_.pending.empty()) return std::nullopt;
    if (upstream_.pending.empty() && wait_any({{upstream_.fd.get(), POLLIN, 0}, {client_.fd.get(), POLLIN, 0}}) == 1)
      return std::nullopt;
    Head response = read_response_head(request);
    if (response.status >= 200) return response;
    send_all(client_, response.raw);
    if (response.status == 100) return std::nullopt;
  }
}

// Upstream's final response head; interim (1xx) ones before it are relayed.
Head Connection::read_response(const Head& request) {
  for (;;) {
    Head response = read_response_head(request);
    if (response.status >= 200) return response;
    send_all(client_, response.raw);
  }
}

Head Connection::read_response_head(const Head& request) {
  std::optional<Head> response = read_head(upstream_, false);
  if (!response) throw ConnectionEnded{};
  int status = response->status;
  if (request.method == "HEAD" || status < 200 || status == 204 || status == 304) response->framing = Framing::none;
  return *std::move(response);
}

void Connection::reset_mid_request(const Head& request) {
  // Without a 100 the client would wait (for its expect timeout) instead of
  // sending the body this fault cuts into.
  if (request.expect_continue) send_all(client_, "HTTP/1.1 100 Continue\r\n\r\n");
  std::string taken;
  copy_bytes(client_, nullptr, first_stretch(client_, request, taken) / 2);
  reset(client_);
}

void Connection::reset_mid_body(const Head& response) {
  std::string prefix = response.raw;
  uint64_t stretch = first_stretch(upstream_, response, prefix);
  if (stretch == 0) prefix.resize(response.raw.size() / 2);  // no body to cut: cut the head
  send_all(client_, prefix);
  copy_bytes(upstream_, &client_, stretch / 2);
  reset(client_);
}

// How many body bytes follow `head` before the first place a cut can go: the
// Content-Length; the first chunk's size (its line is read and appended to
// `taken`); what first arrives of a body read until close; or 0.
uint64_t Connection::first_stretch(Peer& from, const Head& head, std::string& taken) {
  switch (head.framing) {
    case Framing::none:
      return 0;
    case Framing::length:
      return head.length;
    case Framing::chunked: {
      std::string line = read_line(from);
      taken += line;
      return parse_chunk_size(line);
    }
    case Framing::until_close:
      if (from.pending.empty()) fill(from);
      return from.pending.size();
  }
  return 0;
}

void Connection::hold(std::chrono::milliseconds how_long) {
  std::unique_lock lock(proxy_.mu);
  if (proxy_.changed.wait_for(lock, how_long, [this] { return proxy_.stopping; })) throw ConnectionEnded{};
}

// Keeps the upstream connection of an earlier request unless upstream has
// closed it (or, oddly, sent something unasked) since.
void Connection::open_upstream() {
  pollfd idle{upstream_.fd.get(), POLLIN, 0};
  if (upstream_.fd.valid() && upstream_.pending.empty() && ::poll(&idle, 1, 0) == 0) return;
  upstream_ = Peer{connect_upstream(proxy_.upstream_host, proxy_.upstream_port), {}};
}

// Sends FIN and reads until the client closes too: closing with unread input
// would send an RST, which can destroy the response before the client reads it.
void Connection::close_gracefully() {
  gated([this] { return static_cast<ssize_t>(::shutdown(client_.fd.get(), SHUT_WR)); });
  while (fill(client_)) client_.pending.clear();
  throw ConnectionEnded{};
}

// Ends the connection with an RST (SO_LINGER 0). An RST discards what the
// kernel has not sent yet, so first wait until all of it is on the wire
// (TCP_NOTSENT_LOWAT 1 makes POLLOUT mean "nothing unsent"); on loopback that
// puts it in the peer's receive queue, ahead of the RST.
void Connection::reset(Peer& peer) {
  int one = 1;
  ::setsockopt(peer.fd.get(), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &one, sizeof one);
  wait_ready(peer.fd.get(), POLLOUT);
  linger abort{1, 0};
  ::setsockopt(peer.fd.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  gated([&peer] {
    peer.fd.reset();
    return ssize_t{0};
  });
  throw ConnectionEnded{};
}

// The next head from `from`; nothing if the stream ends before one starts.
std::optional<Head> Connection::read_head(Peer& from, bool is_request) {
  size_t end = 0;
  while ((end = from.pending.find("\r\n\r\n")) == std::string::npos) {
    if (from.pending.size() > kMaxHead) throw ConnectionEnded{};
    if (fill(from)) continue;
    if (from.pending.empty()) return std::nullopt;
    throw ConnectionEnded{};  // the stream ended inside a head
  }
  std::string raw = from.pending.substr(0, end + 4);
  from.pending.erase(0, end + 4);
  return parse_head(std::move(raw), is_request);
}

// One CRLF-terminated line, CRLF included.
std::string Connection::read_line(Peer& from) {
  size_t end = 0;
  while ((end = from.pending.find("\r\n")) == std::string::npos) {
    if (from.pending.size() > kMaxLine || !fill(from)) throw ConnectionEnded{};
  }
  std::string line = from.pending.substr(0, end + 2);
  from.pending.erase(0, end + 2);
  return line;
}

// Copies the body framed by `head` from `from` to `to`, or discards it when
// `to` is null.
void Connection::copy_body(Peer& from, Peer* to, const Head& head) {
  switch (head.framing) {
    case Framing::none:
      return;
    case Framing::length:
      return copy_bytes(from, to, head.length);
    case Framing::chunked:
      return copy_chunked(from, to);
    case Framing::until_close:
      do {
        if (to) send_all(*to, from.pending);
        from.pending.clear();
      } while (fill(from));
      return;
  }
}

void Connection::copy_bytes(Peer& from, Peer* to, uint64_t n) {
  while (n > 0) {
    if (from.pending.empty() && !fill(from)) throw ConnectionEnded{};  // the body ended early
    size_t take = static_cast<size_t>(std::min<uint64_t>(n, from.pending.size()));
    if (to) send_all(*to, std::string_view(from.pending).substr(0, take));
    from.pending.erase(0, take);
    n -= take;
  }
}

// Chunk lines, chunk data and trailers go on as they came.
void Connection::copy_chunked(Peer& from, Peer* to) {
  for (;;) {
    std::string line = read_line(from);
    if (to) send_all(*to, line);
    uint64_t size = parse_chunk_size(line);
    if (size == 0) break;
    copy_bytes(from, to, size + 2);  // the data and its CRLF
  }
  for (std::string line = read_line(from);; line = read_line(from)) {  // trailers up to the blank line
    if (to) send_all(*to, line);
    if (line == "\r\n") return;
  }
}

// Runs one non-blocking socket call, unless the proxy is cut (then waits for
// heal) or stopping (then ends the connection). The call never blocks, so
// holding the lock across it is cheap, and it makes cut() exact: once cut()
// returns, no call moves a byte.
template <typename Call>
Connection::IoResult Connection::gated(Call call) {
  std::unique_lock lock(proxy_.mu);
  proxy_.changed.wait(lock, [this] { return proxy_.stopping || !proxy_.cut; });
  if (proxy_.stopping) throw ConnectionEnded{};
  ssize_t n = call();
  return {n, n < 0 ? errno : 0};
}

// Appends what `from` has to give (waiting for at least a byte) to
// from.pending; false at the end of the stream.
bool Connection::fill(Peer& from) {
  for (;;) {
    size_t had = from.pending.size();
    from.pending.resize(had + kBlock);
    auto [n, error] = gated([&] { return ::recv(from.fd.get(), from.pending.data() + had, kBlock, MSG_DONTWAIT); });
    from.pending.resize(had + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    if (n > 0) return true;
    if (n == 0) return false;
    if (error == EAGAIN || error == EWOULDBLOCK)
      wait_ready(from.fd.get(), POLLIN);
    else if (error != EINTR)
      throw ConnectionEnded{};
  }
}

void Connection::send_all(Peer& to, std::string_view bytes) {
  while (!bytes.empty()) {
    auto [n, error] =
        gated([&] { return ::send(to.fd.get(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL); });
    if (n > 0)
      bytes.remove_prefix(static_cast<size_t>(n));
    else if (error == EAGAIN || error == EWOULDBLOCK)
      wait_ready(to.fd.get(), POLLOUT);
    else if (error != EINTR)
      throw ConnectionEnded{};
  }
}

// The index of the first of `fds` that is ready (or failed).
size_t Connection::wait_any(std::vector<pollfd> fds) {
  fds.push_back({wake_.get(), POLLIN, 0});
  for (;;) {
    int ready = ::poll(fds.data(), fds.size(), -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0 || fds.back().revents != 0) throw ConnectionEnded{};
    for (size_t i = 0; i + 1 < fds.size(); ++i)
      if (fds[i].revents != 0) return i;
  }
}

Decision FaultProxyState::decide() {
  std::lock_guard lock(mu);
  Decision d;
  d.number = ++counters.requests;
  if (faults.fail_next > 0) {
    --faults.fail_next;
    d.fault = Fault::fail;
    d.status = faults.next_status;
    d.code = faults.next_code;
  } else if (faults.fail.hits(d.number)) {
    d.fault = Fault::fail;
    d.status = faults.fail_status;
    d.code = faults.fail_code;
  } else if (faults.reset_mid_request.hits(d.number)) {
    d.fault = Fault::reset_mid_request;
  } else if (faults.reset_mid_body.hits(d.number)) {
    d.fault = Fault::reset_mid_body;
  } else if (faults.stall.hits(d.number)) {
    d.fault = Fault::stall;
    d.stall = faults.stall_for;
  }
  if (d.fault != Fault::none) ++counters.injected;
  return d;
}

void FaultProxyState::count_forwarded() {
  std::lock_guard lock(mu);
  ++counters.forwarded;
}

void FaultProxyState::accept_loop() {
  pollfd fds[2] = {{listener.get(), POLLIN, 0}, {accept_wake.get(), POLLIN, 0}};
  for (;;) {
    int ready = ::poll(fds, 2, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0 || fds[1].revents != 0) return;
    UniqueFd client(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    UniqueFd wake(::eventfd(0, EFD_CLOEXEC));
    if (!client.valid() || !wake.valid()) continue;
    set_nodelay(client.get());
    std::erase_if(connections, [](const auto& c) { return c->finished(); });  // joins them
    connections.push_back(std::make_unique<Connection>(*this, std::move(client), std::move(wake)));
  }
}

}  // namespace detail

FaultProxy::FaultProxy(std::string upstream_host, int upstream_port)
    : state_(std::make_unique<detail::FaultProxyState>()) {
  detail::FaultProxyState& s = *state_;
  s.upstream_host = std::move(upstream_host);
  s.upstream_port = upstream_port;
  s.listener = listen_on_loopback(s.port);
  s.accept_wake = UniqueFd(::eventfd(0, EFD_CLOEXEC));
  if (!s.accept_wake.valid()) throw std::runtime_error("fault proxy could not make an eventfd");
  s.acceptor = std::thread([&s] { s.accept_loop(); });
}

FaultProxy::~FaultProxy() {
  detail::FaultProxyState& s = *state_;
  {
    std::lock_guard lock(s.mu);
    s.stopping = true;
  }
  s.changed.notify_all();
  signal_eventfd(s.accept_wake.get());
  s.acceptor.join();
  for (auto& connection : s.connections) connection->wake();
  s.connections.clear();  // each joins its thread
}

int FaultProxy::port() const { return state_->port; }

std::string FaultProxy::endpoint() const { return "http://127.0.0.1:" + std::to_string(state_->port); }

void FaultProxy::fail_every(int n, int status, std::string s3_code) {
  std::lock_guard lock(state_->mu);
  state_->faults.fail = {n, state_->counters.requests};
  state_->faults.fail_status = status;
  state_->faults.fail_code = std::move(s3_code);
}

void FaultProxy::fail_next(int count, int status, std::string s3_code) {
  std::lock_guard lock(state_->mu);
  state_->faults.fail_next = count;
  state_->faults.next_status = status;
  state_->faults.next_code = std::move(s3_code);
}

void FaultProxy::reset_mid_body_every(int n) {
  std::lock_guard lock(state_->mu);
  state_->faults.reset_mid_body = {n, state_->counters.requests};
}

void FaultProxy::reset_mid_request_every(int n) {
  std::lock_guard lock(state_->mu);
  state_->faults.reset_mid_request = {n, state_->counters.requests};
}

void FaultProxy::stall_every(int n, std::chrono::milliseconds how_long) {
  std::lock_guard lock(state_->mu);
  state_->faults.stall = {n, state_->counters.requests};
  state_->faults.stall_for = how_long;
}

void FaultProxy::cut() {
  std::lock_guard lock(state_->mu);
  state_->cut = true;
}

void FaultProxy::heal() {
  {
    std::lock_guard lock(state_->mu);
    state_->cut = false;
  }
  state_->changed.notify_all();
}

void FaultProxy::clear() {
  {
    std::lock_guard lock(state_->mu);
    state_->faults = Faults{};
    state_->cut = false;
  }
  state_->changed.notify_all();
}

FaultProxy::Counters FaultProxy::counters() const {
  std::lock_guard lock(state_->mu);
  return state_->counters;
}

}  // namespace cellar::test
