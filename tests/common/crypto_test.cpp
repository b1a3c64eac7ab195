#include "common/crypto.h"

#include <catch2/catch.hpp>

using namespace cellar;

TEST_CASE("sha256 matches the FIPS 180-2 test vectors", "[common]") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 s;
  std::string a(1000000, 'a');
  for (size_t i = 0; i < a.size(); i += 999) s.update(std::string_view(a).substr(i, 999));
  CHECK(s.hex_digest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("hmac-sha256 matches RFC 4231 test case 2", "[common]") {
  CHECK(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("md5 and base64 give S3's Content-MD5 of a known body", "[common]") {
  CHECK(base64_encode(md5_raw("")) == "1B2M2Y8AsgTpgAmY7PhCfg==");
  CHECK(to_hex(md5_raw("abc")) == "900150983cd24fb0d6963f7d28e17f72");
}

TEST_CASE("base64 round-trips every length and rejects garbage", "[common]") {
  std::string raw;
  for (int i = 0; i < 20; ++i) {
    auto back = base64_decode(base64_encode(raw));
    REQUIRE(back.is_ok());
    CHECK(*back == raw);
    raw += static_cast<char>(i * 37);
  }
  CHECK_FALSE(base64_decode("abc").is_ok());
  CHECK_FALSE(base64_decode("a!b?").is_ok());
}

TEST_CASE("aes-256-gcm opens what it sealed and refuses any altered byte", "[common]") {
  std::string key(32, 'k'), nonce(12, 'n');
  auto sealed = aes256gcm_seal(key, nonce, "chunk 0", "secret data");
  REQUIRE(sealed.is_ok());
  CHECK(sealed->size() == std::string("secret data").size() + 16);
  auto opened = aes256gcm_open(key, nonce, "chunk 0", *sealed);
  REQUIRE(opened.is_ok());
  CHECK(*opened == "secret data");
  for (size_t i = 0; i < sealed->size(); ++i) {
    std::string bad = *sealed;
    bad[i] = static_cast<char>(bad[i] ^ 1);
    CHECK_FALSE(aes256gcm_open(key, nonce, "chunk 0", bad).is_ok());
  }
  CHECK_FALSE(aes256gcm_open(key, nonce, "chunk 1", *sealed).is_ok());
  CHECK_FALSE(aes256gcm_open(std::string(32, 'x'), nonce, "chunk 0", *sealed).is_ok());
  CHECK_FALSE(aes256gcm_seal("short", nonce, "", "x").is_ok());
}

TEST_CASE("random bytes differ between calls", "[common]") {
  auto a = random_bytes(32), b = random_bytes(32);
  REQUIRE(a.is_ok());
  REQUIRE(b.is_ok());
  CHECK(a->size() == 32);
  CHECK(*a != *b);
}
