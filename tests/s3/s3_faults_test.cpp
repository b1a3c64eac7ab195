// The S3 driver's retries and error messages when the network or the
// server misbehaves: a FaultProxy (support/fault_proxy.h) between the
// driver and the real Swift S3 server injects 5xx answers, 4xx answers,
// connection resets and stalls.
#include <catch2/catch.hpp>

#include "s3/s3_storage.h"
#include "support/fault_proxy.h"
#include "support/s3_server.h"

using namespace cellar;
using namespace cellar::test;
using namespace std::chrono_literals;

namespace {

std::string pattern(size_t n) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>((i * 7 + i / 8191) % 253);
  return out;
}

// Options for a fresh bucket, reached through `proxy`.
s3::Options through(const FaultProxy& proxy, unsigned retries = 3) {
  s3::Options o = test_s3_options();
  o.endpoint = proxy.endpoint();
  o.retries = retries;
  return o;
}

}  // namespace

TEST_CASE("503 SlowDown answers are retried until the upload succeeds", "[s3]") {
  FaultProxy proxy("127.0.0.1", shared_s3().port());
  auto s = s3::make_s3(through(proxy));
  proxy.fail_next(2, 503, "SlowDown");
  REQUIRE(storage::write_file(*s, "f", "data").is_ok());
  CHECK(proxy.counters().injected == 2);
  CHECK(storage::read_file(*s, "f").value() == "data");
}

TEST_CASE("retries stop after s3_retries and the error names the last answer and the attempts", "[s3]") {
  FaultProxy proxy("127.0.0.1", shared_s3().port());
  s3::Options o = through(proxy, 2);
  auto s = s3::make_s3(o);
  proxy.fail_every(1, 500, "InternalError");
  Status st = storage::write_file(*s, "base/f", "data");
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.message().rfind("could not upload \"s3://" + o.bucket + "/repo/base/f\": HTTP 500 InternalError", 0) == 0);
  CHECK(st.message().find("(PUT, 3 attempts)") != std::string::npos);
  CHECK(proxy.counters().requests == 3);
}

TEST_CASE("a 4xx answer is not retried", "[s3]") {
  FaultProxy proxy("127.0.0.1", shared_s3().port());
  s3::Options o = through(proxy, 3);
  auto s = s3::make_s3(o);
  proxy.fail_next(1, 403, "AccessDenied");
  Status st = storage::write_file(*s, "f", "data");
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.message().find("HTTP 403 AccessDenied") != std::string::npos);
  CHECK(st.message().find("(PUT)") != std::string::npos);
  CHECK(proxy.counters().requests == 1);
}

TEST_CASE("a body cut short mid-transfer is fetched again, never returned as a short file", "[s3]") {
  FaultProxy proxy("127.0.0.1", shared_s3().port());
  s3::Options o = through(proxy, 4);
  o.read_chunk = 1 << 20;
  o.read_ahead = 1;
  auto s = s3::make_s3(o);
  const std::string data = pattern((3 << 20) + 99);
  REQUIRE(storage::write_file(*s, "seg", data).is_ok());
  proxy.reset_mid_body_every(2);
  auto back = storage::read_file(*s, "seg");
  REQUIRE(back.is_ok());
  CHECK(back->size() == data.size());
  CHECK(*back == data);
  CHECK(proxy.counters().injected >= 2);
}

TEST_CASE("a connection reset in the middle of an upload is retried, parts included", "[s3]") {
  FaultProxy proxy("127.0.0.1", shared_s3().port());
  s3::Options o = through(proxy, 4);
  auto s = s3::make_s3(o);
  const std::string data = pattern((11 << 20) + 5);
  proxy.reset_mid_request_every(3);
  REQUIRE(storage::write_file(*s, "big", data).is_ok());
  CHECK(proxy.counters().injected >= 1);
  proxy.clear();
  CHECK(storage::read_file(*s, "big").value() == data);
}

TEST_CASE("a stalled answer times out and is retried", "[s3]") {
  FaultProxy proxy("127.0.0.1", shared_s3().port());
  s3::Options o = through(proxy, 2);
  o.stall_timeout = 1s;
  auto s = s3::make_s3(o);
  REQUIRE(storage::write_file(*s, "f", "data").is_ok());
  proxy.stall_every(2, 4000ms);
  CHECK(storage::exists(*s, "f"));                       // request 1: passes
  CHECK(storage::read_file(*s, "f").value() == "data");  // request 2 stalls, its retry (3) passes
  CHECK(proxy.counters().injected == 1);
}

TEST_CASE("a refused connection is retried, then reported with curl's reason", "[s3]") {
  s3::Options o = shared_s3().options("any");
  int port = 0;
  {
    FaultProxy closed("127.0.0.1", 1);  // a port that was free a moment ago
    port = closed.port();
  }
  o.endpoint = "http://127.0.0.1:" + std::to_string(port);
  o.retries = 2;
  auto s = s3::make_s3(o);
  Status st = storage::write_file(*s, "f", "data");
  REQUIRE_FALSE(st.is_ok());
  INFO(st.message());
  CHECK(st.message().rfind("could not upload \"s3://any/repo/f\": ", 0) == 0);
  CHECK(st.message().find("onnect") != std::string::npos);
  CHECK(st.message().find("(PUT, 3 attempts)") != std::string::npos);
}

TEST_CASE("objects round-trip over https with the server's certificate", "[s3]") {
  s3::Options o = test_s3_options();
  o.endpoint = shared_s3().tls_endpoint();
  o.ca_file = shared_s3().ca_file();
  o.retries = 8;  // the https proxy may still be starting
  auto s = s3::make_s3(o);
  const std::string data = pattern((6 << 20) + 1);  // a multipart upload, payload unsigned under TLS
  REQUIRE(storage::write_file(*s, "big", data).is_ok());
  CHECK(storage::read_file(*s, "big").value() == data);
  REQUIRE(storage::write_file(*s, "small", "x").is_ok());
  CHECK(s->list("").value().size() == 2);
}

TEST_CASE("an https server with an unknown certificate is refused unless verify_tls is off", "[s3]") {
  s3::Options o = test_s3_options();
  o.endpoint = shared_s3().tls_endpoint();
  o.retries = 8;
  o.verify_tls = false;
  REQUIRE(storage::write_file(*s3::make_s3(o), "f", "x").is_ok());
  o.verify_tls = true;
  o.retries = 0;
  Status st = storage::write_file(*s3::make_s3(o), "f", "x");
  REQUIRE_FALSE(st.is_ok());
  INFO(st.message());
  CHECK(st.message().find("certificate") != std::string::npos);
}
