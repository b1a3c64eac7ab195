// A fault-injecting HTTP/1.1 proxy for tests of the S3 client: it sits between
// the client and a real S3 server (Swift's S3 API on 127.0.0.1), forwards
// requests and responses byte for byte, and on chosen requests breaks the
// exchange the way a network or an overloaded server does.
//
// What it owns: a listening socket on 127.0.0.1 (ephemeral port), one thread
// per client connection and that connection's own upstream connection, opened
// on the first forwarded request and kept alive while both sides allow it.
// What it does not: TLS, HTTP/2, protocol upgrades (101), an upstream that
// answers before it has read the request body (without 100-continue), or S3
// itself. Pipelined requests are served one after the other. The one
// S3-shaped thing it makes is the XML error body of an injected failure.
//
// Framing it understands, enough to find every request and response on a
// keep-alive connection without buffering a body whole:
// - requests: head, then a body by Content-Length or `Transfer-Encoding:
//   chunked` (chunk lines and trailers are forwarded as they came), or none;
// - responses: by Content-Length or chunked; none for HEAD, 1xx, 204 and 304;
//   a response with neither is read until upstream closes, and the client
//   connection then closes too;
// - `Expect: 100-continue`: upstream's interim 100 is relayed to the client
//   before the body flows. If upstream gives a final status instead, that is
//   relayed and the connection closed after it, since the client may or may
//   not send the body it announced.
// Malformed framing, or an upstream that refuses the connection, ends the
// client connection without a response.
//
// Faults are chosen per request, counting requests across every connection.
// A `*_every(n)` fault hits the n-th, 2n-th, ... request counted from the call
// that set it; n <= 0 turns it off. When several apply to one request the
// first of fail_next, fail_every, reset_mid_request, reset_mid_body,
// stall_every wins. Setters may be called from any thread at any time; a
// request already past its decision is not affected.
#pragma once

#include <chrono>
#include <memory>
#include <string>

namespace cellar::test {

namespace detail {
struct FaultProxyState;
}

class FaultProxy {
 public:
  // Listens on 127.0.0.1 at once and forwards to upstream_host:upstream_port.
  // Throws std::runtime_error if it cannot listen.
  FaultProxy(std::string upstream_host, int upstream_port);
  // Stops forwarding, closes every connection (also those held by a stall or
  // a cut; the kernel makes a close with unread input an RST) and joins every
  // thread.
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const;
  std::string endpoint() const;  // "http://127.0.0.1:PORT"

  // Answers every n-th request itself with `status` and an S3 error body
  // (<Error><Code>s3_code</Code><Message>...</Message></Error>). A request
  // body is read and discarded first and the connection stays usable; with
  // `Expect: 100-continue` the error is the answer to the head, and the proxy
  // closes the connection after it. The request never reaches upstream.
  void fail_every(int n, int status = 503, std::string s3_code = "SlowDown");
  // The same for each of the next `count` requests.
  void fail_next(int count, int status, std::string s3_code);
  // Forwards the request, then gives the client the response head and about
  // half its body (half the Content-Length; of a chunked body, the first
  // chunk line and half that chunk), and resets the connection (RST). A
  // response without body bytes is cut in the middle of its head instead.
  // Everything passed on reaches the client before the reset.
  void reset_mid_body_every(int n);
  // Takes in the head and about half the request body (relaying no 100
  // Continue but answering `Expect: 100-continue` with one of its own so the
  // body starts), then resets the connection. Nothing reaches upstream.
  void reset_mid_request_every(int n);
  // Forwards the request and holds upstream's final response, head included,
  // for `how_long` before passing it on (an interim 100 is not held). A
  // client whose timeout is shorter gives up first.
  void stall_every(int n, std::chrono::milliseconds how_long);
  // Stops moving bytes on every connection, present and future, in both
  // directions: nothing is read or written, nothing is closed. Bytes already
  // handed to the kernel still arrive. heal() resumes where each one stopped.
  void cut();
  void heal();
  // No faults from now on, a cut included.
  void clear();

  struct Counters {
    int requests = 0;   // request heads read from clients
    int injected = 0;   // of those, how many met a fault (stalls included)
    int forwarded = 0;  // heads sent upstream (stalls and resets mid body included)
  };
  Counters counters() const;

 private:
  std::unique_ptr<detail::FaultProxyState> state_;
};

}  // namespace cellar::test
