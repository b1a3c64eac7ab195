// The SigV4 signer against the worked examples of AWS's S3 documentation
// ("Signature Calculations for the Authorization Header: Transferring
// Payload in a Single Chunk"): same credentials, date and requests, the
// signatures AWS published.
#include "s3/sigv4.h"

#include <catch2/catch.hpp>

#include "common/crypto.h"

using namespace cellar;
using namespace cellar::s3;

namespace {

const char* const kEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const char* const kDate = "20130524T000000Z";
const SigningKey kKey{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1"};

SigningRequest example(std::string method, std::string path, Pairs query, std::string payload_hash = kEmpty) {
  SigningRequest r{std::move(method), std::move(path), std::move(query), {}, payload_hash};
  r.headers = {
      {"Host", "examplebucket.s3.amazonaws.com"}, {"x-amz-date", kDate}, {"x-amz-content-sha256", payload_hash}};
  return r;
}

std::string signature_of(const std::string& authorization) {
  return authorization.substr(authorization.find("Signature=") + 10);
}

}  // namespace

TEST_CASE("the signer reproduces AWS's GET Object example with a Range header", "[s3]") {
  SigningRequest r = example("GET", "/test.txt", {});
  r.headers.emplace_back("Range", "bytes=0-9");
  CHECK(authorization(r, kKey, kDate) ==
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST_CASE("the signer reproduces AWS's PUT Object example with an encoded key and a signed payload", "[s3]") {
  const std::string body = "Welcome to Amazon S3.";
  SigningRequest r = example("PUT", "/" + uri_encode("test$file.text", true), {}, sha256_hex(body));
  r.headers.emplace_back("Date", "Fri, 24 May 2013 00:00:00 GMT");
  r.headers.emplace_back("x-amz-storage-class", "REDUCED_REDUNDANCY");
  CHECK(r.path == "/test%24file.text");
  CHECK(signature_of(authorization(r, kKey, kDate)) ==
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST_CASE("the signer reproduces AWS's examples with a valueless and an unsorted query", "[s3]") {
  CHECK(signature_of(authorization(example("GET", "/", {{"lifecycle", ""}}), kKey, kDate)) ==
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
  const SigningRequest list = example("GET", "/", {{"prefix", "J"}, {"max-keys", "2"}});
  CHECK(string_to_sign(list, kKey, kDate) ==
        "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
        "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7");
  CHECK(signature_of(authorization(list, kKey, kDate)) ==
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST_CASE("canonical queries encode names and values and sort by name", "[s3]") {
  CHECK(canonical_query({{"uploads", ""}}) == "uploads=");
  CHECK(canonical_query({{"prefix", "a/b c"}, {"list-type", "2"}, {"continuation-token", "x+y=="}}) ==
        "continuation-token=x%2By%3D%3D&list-type=2&prefix=a%2Fb%20c");
  CHECK(uri_encode("base/2026 x~y*", true) == "base/2026%20x~y%2A");
  CHECK(uri_encode("a/b", false) == "a%2Fb");
  CHECK(amz_date(1369353600) == "20130524T000000Z");
}

TEST_CASE("canonical headers are lowercase, trimmed, sorted and signed by name", "[s3]") {
  SigningRequest r{"GET", "/", {}, {{"X-Amz-Date", kDate}, {"Host", "  h   x  "}}, kEmpty};
  CHECK(canonical_request(r) ==
        std::string("GET\n/\n\nhost:h x\nx-amz-date:") + kDate + "\n\nhost;x-amz-date\n" + kEmpty);
  r.headers.emplace_back("x-amz-security-token", "TOKEN");
  CHECK(authorization(r, kKey, kDate).find("SignedHeaders=host;x-amz-date;x-amz-security-token,") != std::string::npos);
}
