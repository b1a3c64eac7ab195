// What the S3 driver puts on the wire, seen by a one-shot HTTP listener
// that records a request head and answers 200: the signed headers a real
// server cannot show (session token, payload hash, Content-MD5, storage
// class).
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "common/crypto.h"
#include "s3/s3_storage.h"

using namespace cellar;

namespace {

// Accepts one connection, keeps the request head and body, answers 200.
class Recorder {
 public:
  Recorder() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 1) == 0);
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~Recorder() {
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // What arrived; waits for the exchange to end.
  const std::string& request() {
    if (thread_.joinable()) thread_.join();
    return request_;
  }

 private:
  void serve() {
    const int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    char buf[4096];
    size_t head_end = std::string::npos, want = 0;
    while (head_end == std::string::npos || request_.size() < head_end + 4 + want) {
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      request_.append(buf, static_cast<size_t>(n));
      if (head_end == std::string::npos && (head_end = request_.find("\r\n\r\n")) != std::string::npos) {
        const size_t at = request_.find("Content-Length: ");
        if (at != std::string::npos && at < head_end) want = std::stoul(request_.substr(at + 16));
      }
    }
    const std::string answer = "HTTP/1.1 200 OK\r\nETag: \"x\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    (void)::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
    ::close(c);
  }

  int fd_;
  int port_ = 0;
  std::thread thread_;
  std::string request_;
};

}  // namespace

TEST_CASE("a PUT carries its signed payload hash, Content-MD5, session token and storage class", "[s3]") {
  Recorder recorder;
  s3::Options o;
  o.endpoint = recorder.endpoint();
  o.bucket = "bkt";
  o.prefix = "/pre/";
  o.path_style = true;
  o.credentials = {"AKID", "SECRET-never-sent", "SESSION-TOKEN"};
  o.storage_class = "STANDARD_IA";
  o.retries = 0;
  auto s = s3::make_s3(o);
  REQUIRE(storage::write_file(*s, "a b/c.txt", "payload").is_ok());
  const std::string& r = recorder.request();
  INFO(r);
  CHECK(r.rfind("PUT /bkt/pre/a%20b/c.txt HTTP/1.1\r\n", 0) == 0);
  CHECK(r.find("\r\nx-amz-content-sha256: " + sha256_hex("payload") + "\r\n") != std::string::npos);
  CHECK(r.find("\r\nContent-MD5: " + base64_encode(md5_raw("payload")) + "\r\n") != std::string::npos);
  CHECK(r.find("\r\nx-amz-security-token: SESSION-TOKEN\r\n") != std::string::npos);
  CHECK(r.find("\r\nx-amz-storage-class: STANDARD_IA\r\n") != std::string::npos);
  CHECK(r.find("Credential=AKID/") != std::string::npos);
  CHECK(r.find("SignedHeaders=content-md5;host;x-amz-content-sha256;x-amz-date;x-amz-security-token;"
               "x-amz-storage-class,") != std::string::npos);
  CHECK(r.find("SECRET") == std::string::npos);
  CHECK(r.find("Expect:") == std::string::npos);
  CHECK(r.substr(r.size() - 7) == "payload");
}
